package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;
import dev.amalgam.kernel.Kernels;

import java.util.List;

/**
 * Linear: a weighted average of the operands. Method stage.
 *
 * <pre>
 *   w_i = R(weight_i)                       weights quantised to the working dtype D
 *   acc = R( sum_i R(w_i * x_i) )           products rounded to D, summed in float32 in recipe order
 *   out = normalize ? R(acc / R(sum_i w_i)) : acc
 * </pre>
 * Paper: Model soups, https://arxiv.org/abs/2203.05482. Matches mergekit's rounding to D step by
 * step. Deviation: weights that sum to zero under {@code normalize} are refused at plan time
 * instead of producing Inf/NaN.
 */
public final class Linear implements MergeMethod {

    @Override
    public String name() {
        return "linear";
    }

    @Override
    public String prettyName() {
        return "Linear";
    }

    @Override
    public String referenceUrl() {
        return "https://arxiv.org/abs/2203.05482";
    }

    @Override
    public List<ParamSpec> globalParameters() {
        return List.of(ParamSpec.flag("normalize", true));
    }

    @Override
    public List<ParamSpec> perModelParameters() {
        return List.of(ParamSpec.required("weight"));
    }

    @Override
    public BaseRule baseRule() {
        return BaseRule.UNUSED;
    }

    @Override
    public String checkOperands(int operands, int baseIndex) {
        return operands < 1 ? "linear needs at least one model" : null;
    }

    @Override
    public String checkParameters(MergeContext ctx) {
        if (!ctx.flag("normalize")) {
            return null;
        }
        double[] w = new double[ctx.operands()];
        for (int i = 0; i < w.length; i++) {
            Double wi = ctx.param(i, "weight");
            w[i] = wi == null ? 0 : wi;
        }
        return weightSum(ctx.workDtype(), w) == 0f
                ? "the weights sum to zero, and normalize divides by their sum" : null;
    }

    @Override
    public TensorMerge prepare(MergeContext ctx) {
        DType d = ctx.workDtype();
        int n = ctx.operands();
        float[] w = new float[n];
        float sumW = 0f;
        for (int i = 0; i < n; i++) {
            Double wi = ctx.param(i, "weight");
            w[i] = Codec.round(d, wi == null ? 0f : (float) (double) wi);
            sumW += w[i];
        }
        boolean normalize = ctx.flag("normalize");
        float divisor = Codec.round(d, sumW);
        return (in, count, offset, out) -> Kernels.weightedSum(d, w, in, count, normalize, divisor, out);
    }

    /** The sum of the weights as the method will divide by it, for plan-time checks. */
    public static float weightSum(DType d, double[] weights) {
        float s = 0f;
        for (double wi : weights) {
            s += Codec.round(d, (float) wi);
        }
        return Codec.round(d, s);
    }
}
