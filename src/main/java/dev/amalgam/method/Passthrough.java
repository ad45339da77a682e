package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;

import java.util.List;

/**
 * Passthrough: copies its single operand, optionally scaled: {@code out = R(x * scale)}. Method
 * stage. Used for layer stacking and frankenmerges, one source per slice; without a scale the
 * bytes are copied verbatim (bit-identical to the source layer).
 */
public final class Passthrough implements MergeMethod {

    @Override
    public String name() {
        return "passthrough";
    }

    @Override
    public String prettyName() {
        return "Passthrough";
    }

    @Override
    public String referenceUrl() {
        return null;
    }

    @Override
    public List<ParamSpec> globalParameters() {
        return List.of();
    }

    @Override
    public List<ParamSpec> perModelParameters() {
        return List.of(ParamSpec.optional("scale", null));
    }

    @Override
    public BaseRule baseRule() {
        return BaseRule.UNUSED;
    }

    @Override
    public String checkOperands(int operands, int baseIndex) {
        return operands == 1 ? null
                : "passthrough takes exactly one model per slice, got " + operands;
    }

    @Override
    public String operandHint() {
        return "give each slice a single source; stack slices to combine layers of several models";
    }

    @Override
    public boolean isIdentity(MergeContext ctx) {
        return ctx.param(0, "scale") == null;
    }

    @Override
    public TensorMerge prepare(MergeContext ctx) {
        DType d = ctx.workDtype();
        Double scale = ctx.param(0, "scale");
        float s = scale == null ? 1f : (float) (double) scale;
        boolean scaled = scale != null;
        return (in, count, offset, out) -> {
            float[] x = in[0];
            if (scaled) {
                for (int e = 0; e < count; e++) {
                    out[e] = x[e] * s;
                }
                Codec.round(d, out, 0, count);
            } else {
                System.arraycopy(x, 0, out, 0, count);
            }
        };
    }
}
