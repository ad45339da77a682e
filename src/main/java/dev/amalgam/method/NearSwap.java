package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;

import java.util.List;
import java.util.Locale;

/**
 * NearSwap: takes the other model's value where it is close to the base and keeps the base where
 * the two are far apart. Method stage, one elementwise pass.
 *
 * <pre>
 *   d   = max(R(|R(base - other)|), R(1e-6))
 *   w   = clamp(R(R(1/d) · t), 0, 1)          (t/d as torch evaluates a scalar over a tensor)
 *   out = R(R(w · other) + R(R(1 - w) · base))
 * </pre>
 * {@code t} is a distance scale, not a position: where {@code |base - other| <= t} the result
 * is the other model, elsewhere it moves towards the base as {@code t/|base - other|}.
 * Reference: https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001. Rounding to the
 * working dtype follows merge-methods §2 and §3.11 step by step.
 *
 * <p>Deviation: {@code t <= 0} is refused; mergekit accepts it and returns the base everywhere.
 */
public final class NearSwap implements MergeMethod {

    @Override
    public String name() {
        return "nearswap";
    }

    @Override
    public String prettyName() {
        return "NearSwap";
    }

    @Override
    public String referenceUrl() {
        return "https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001";
    }

    @Override
    public List<ParamSpec> globalParameters() {
        return List.of(ParamSpec.required("t"));
    }

    @Override
    public List<ParamSpec> perModelParameters() {
        return List.of();
    }

    @Override
    public BaseRule baseRule() {
        return BaseRule.REQUIRED;
    }

    @Override
    public String checkOperands(int operands, int baseIndex) {
        if (baseIndex < 0) {
            return "nearswap needs the base model's tensor, which is missing";
        }
        return operands == 2 ? null : "nearswap merges exactly two models, the base and one other, got " + operands;
    }

    @Override
    public String operandHint() {
        return "list the base_model and exactly one other model";
    }

    @Override
    public String checkParameters(MergeContext ctx) {
        double t = ctx.global("t");
        return t > 0 && Double.isFinite(t) ? null
                : String.format(Locale.ROOT, "nearswap's t must be a positive distance scale, got %s", t);
    }

    @Override
    public TensorMerge prepare(MergeContext ctx) {
        DType d = ctx.workDtype();
        int base = ctx.baseIndex();
        int other = 1 - base;
        float t = (float) (double) ctx.global("t");
        float floor = Operands.scalar(d, 1e-6);
        return (in, n, offset, out) -> {
            float[] a = in[base];
            float[] b = in[other];
            for (int e = 0; e < n; e++) {
                float dist = Math.max(Math.abs(Codec.round(d, a[e] - b[e])), floor);
                float w = Math.min(Math.max(Codec.round(d, Codec.round(d, 1f / dist) * t), 0f), 1f);
                out[e] = Codec.round(d, Codec.round(d, w * b[e]) + Codec.round(d, Codec.round(d, 1f - w) * a[e]));
            }
        };
    }
}
