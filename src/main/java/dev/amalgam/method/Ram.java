package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;

import java.util.List;
import java.util.Locale;

/**
 * RAM (Reinforced Agent Merging): per element, a task-vector entry that only one model changes is
 * taken whole, entries several models change are averaged over those models. Method stage, one
 * elementwise pass.
 *
 * <pre>
 *   τ_i   = R(x_i - base);   a_i = |τ_i| > R(epsilon);   cnt = Σ_i a_i       (per element)
 *   part_i = τ_i·a_i·[cnt = 1]  +  R(τ_i·a_i·[cnt > 1] / max(cnt, 1))
 *   out   = R(base + R(Σ_i part_i))                    (the model sum in float32, in recipe order)
 * </pre>
 * An element no model changes keeps the base value. Paper: https://arxiv.org/abs/2601.13572.
 * Rounding to the working dtype follows merge-methods §2 and §3.9.
 *
 * <p>Deviation: the models are summed in recipe order; mergekit iterates a Python set, whose
 * order (and so the last float32 bit of the sum) can change between runs.
 *
 * <p>Deviation: a negative {@code epsilon} is refused; mergekit counts every element as active.
 */
public final class Ram implements MergeMethod {

    static final double EPSILON = 1e-5;

    @Override
    public String name() {
        return "ram";
    }

    @Override
    public String prettyName() {
        return "Reinforced Agent Merging";
    }

    @Override
    public String referenceUrl() {
        return "https://arxiv.org/abs/2601.13572";
    }

    @Override
    public List<ParamSpec> globalParameters() {
        return List.of(ParamSpec.optional("epsilon", EPSILON));
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
        return baseOperand(name(), baseIndex);
    }

    @Override
    public String operandHint() {
        return "the base model must have every tensor the other models merge";
    }

    @Override
    public String checkParameters(MergeContext ctx) {
        return nonNegativeEpsilon(ctx);
    }

    @Override
    public boolean isIdentity(MergeContext ctx) {
        return ctx.operands() == 1 && ctx.baseIndex() == 0;
    }

    @Override
    public TensorMerge prepare(MergeContext ctx) {
        DType d = ctx.workDtype();
        int base = ctx.baseIndex();
        int[] models = Operands.others(ctx.operands(), base);
        float eps = Operands.scalar(d, ctx.global("epsilon"));
        return new TensorMerge() {
            private float[][] tau = new float[0][0];

            @Override
            public void apply(float[][] in, int n, long offset, float[] out) {
                float[] b = in[base];
                if (models.length == 0) {
                    System.arraycopy(b, 0, out, 0, n);
                    return;
                }
                if (tau.length == 0 || tau[0].length < n) {
                    tau = new float[models.length][n];
                }
                int[] cnt = activity(d, in, b, models, eps, tau, n);
                for (int e = 0; e < n; e++) {
                    float acc = 0f;
                    for (int j = 0; j < models.length; j++) {
                        float z = tau[j][e];
                        float part = Codec.round(d, z * (cnt[e] == 1 ? 1f : 0f)
                                + Codec.round(d, z * (cnt[e] > 1 ? 1f : 0f) / Math.max(cnt[e], 1)));
                        acc = j == 0 ? part : acc + part;
                    }
                    out[e] = Codec.round(d, b[e] + Codec.round(d, acc));
                }
            }
        };
    }

    /**
     * Fills {@code tau[j]} with model j's task vector times its activity mask ({@code ±0} where
     * inactive) and returns the per-element count of active models.
     */
    static int[] activity(DType d, float[][] in, float[] b, int[] models, float eps, float[][] tau, int n) {
        int[] cnt = new int[n];
        for (int j = 0; j < models.length; j++) {
            float[] x = in[models[j]];
            float[] t = tau[j];
            for (int e = 0; e < n; e++) {
                float v = Codec.round(d, x[e] - b[e]);
                boolean active = Math.abs(v) > eps;
                t[e] = v * (active ? 1f : 0f);
                cnt[e] += active ? 1 : 0;
            }
        }
        return cnt;
    }

    static String baseOperand(String method, int baseIndex) {
        return baseIndex < 0 ? method + " subtracts the base model, which lacks this tensor" : null;
    }

    static String nonNegativeEpsilon(MergeContext ctx) {
        double eps = ctx.global("epsilon");
        return eps >= 0 && Double.isFinite(eps) ? null
                : String.format(Locale.ROOT, "epsilon must be a finite number >= 0, got %s", eps);
    }
}
