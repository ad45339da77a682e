package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;

import java.util.List;
import java.util.Locale;

/**
 * RAM+ tensor-local: {@link Ram}, with each model's unique contributions scaled up by how much
 * of its activity it shares with other models in this tensor. Method stage; one measuring pass
 * (the per-model counts), then the applying pass.
 *
 * <pre>
 *   τ_i, a_i, cnt as in RAM (a_i = |τ_i| > R(epsilon))
 *   shared_i = #{a_i and cnt > 1},  unique_i = #{a_i and cnt = 1}          (over the tensor)
 *   ρ_i = shared_i / max(unique_i, epsilon);   λ_i = 1 + r · clamp(ρ_i, 0, alpha)   (float32)
 *   part_i = τ_i·a_i·[cnt = 1] · λ_i  +  R(τ_i·a_i·[cnt > 1] / max(cnt, 1))          (float32)
 *   out = base + Σ_i part_i                                          (float32, not rounded to D)
 * </pre>
 * Paper: https://arxiv.org/abs/2601.13572. The result is float32, as mergekit returns it, so
 * without {@code out_dtype} the tensors are written as F32 whatever the working dtype
 * ({@link #resultDtype}); this reproduces mergekit.
 *
 * <p>Deviation: the models are summed in recipe order; mergekit iterates a Python set, whose
 * order (and so the last float32 bit of the sum) can change between runs.
 *
 * <p>Deviation: a model with no active element at all, under {@code epsilon: 0}, gets ρ = 0;
 * mergekit divides 0 by 0 and writes NaN everywhere. With no model besides the base, the base
 * is written as float32 like every other tensor of the method (mergekit keeps its dtype). A
 * negative {@code epsilon} or {@code alpha} is refused.
 */
public final class RamPlusTl implements MergeMethod {

    @Override
    public String name() {
        return "ramplus_tl";
    }

    @Override
    public String prettyName() {
        return "Reinforced Agent Merging Plus (Tensor-Local)";
    }

    @Override
    public String referenceUrl() {
        return "https://arxiv.org/abs/2601.13572";
    }

    @Override
    public List<ParamSpec> globalParameters() {
        return List.of(ParamSpec.optional("r", 0.1), ParamSpec.optional("alpha", 0.2),
                ParamSpec.optional("epsilon", Ram.EPSILON));
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
    public DType resultDtype(DType work) {
        return work == DType.F64 ? work : DType.F32;
    }

    @Override
    public String checkOperands(int operands, int baseIndex) {
        return Ram.baseOperand(name(), baseIndex);
    }

    @Override
    public String operandHint() {
        return "the base model must have every tensor the other models merge";
    }

    @Override
    public String checkParameters(MergeContext ctx) {
        double r = ctx.global("r");
        double alpha = ctx.global("alpha");
        if (!Double.isFinite(r)) {
            return String.format(Locale.ROOT, "r must be a finite number, got %s", r);
        }
        if (!(alpha >= 0 && Double.isFinite(alpha))) {
            return String.format(Locale.ROOT, "alpha must be a finite number >= 0, got %s", alpha);
        }
        return Ram.nonNegativeEpsilon(ctx);
    }

    @Override
    public TensorMerge prepare(MergeContext ctx) {
        return new Merge(ctx);
    }

    private static final class Merge implements TensorMerge {
        private final DType d;
        private final int base;
        private final int[] models;
        private final float eps;
        private final float epsClamp;
        private final float r;
        private final float alpha;
        private final long[] shared;
        private final long[] unique;
        private final float[] lambda;
        private float[][] tau = new float[0][0];

        Merge(MergeContext ctx) {
            this.d = ctx.workDtype();
            this.base = ctx.baseIndex();
            this.models = Operands.others(ctx.operands(), base);
            double epsilon = ctx.global("epsilon");
            this.eps = Operands.scalar(d, epsilon);
            this.epsClamp = (float) epsilon;
            this.r = (float) (double) ctx.global("r");
            this.alpha = (float) (double) ctx.global("alpha");
            this.shared = new long[models.length];
            this.unique = new long[models.length];
            this.lambda = new float[models.length];
        }

        @Override
        public int measuringPasses() {
            return models.length == 0 ? 0 : 1;
        }

        private int[] activity(float[][] in, int n) {
            if (tau.length == 0 || tau[0].length < n) {
                tau = new float[models.length][n];
            }
            return Ram.activity(d, in, in[base], models, eps, tau, n);
        }

        @Override
        public void measure(int pass, float[][] in, int n, long offset) {
            int[] cnt = activity(in, n);
            for (int j = 0; j < models.length; j++) {
                float[] t = tau[j];
                for (int e = 0; e < n; e++) {
                    if (Math.abs(t[e]) > eps) {
                        shared[j] += cnt[e] > 1 ? 1 : 0;
                        unique[j] += cnt[e] == 1 ? 1 : 0;
                    }
                }
            }
        }

        @Override
        public void endPass(int pass) {
            for (int j = 0; j < models.length; j++) {
                float rho = shared[j] == 0 ? 0f : (float) shared[j] / Math.max((float) unique[j], epsClamp);
                lambda[j] = 1f + r * Math.min(Math.max(rho, 0f), alpha);
            }
        }

        @Override
        public void apply(float[][] in, int n, long offset, float[] out) {
            float[] b = in[base];
            if (models.length == 0) {
                System.arraycopy(b, 0, out, 0, n);
                return;
            }
            int[] cnt = activity(in, n);
            for (int e = 0; e < n; e++) {
                float acc = 0f;
                for (int j = 0; j < models.length; j++) {
                    float z = tau[j][e];
                    float part = z * (cnt[e] == 1 ? 1f : 0f) * lambda[j]
                            + Codec.round(d, z * (cnt[e] > 1 ? 1f : 0f) / Math.max(cnt[e], 1));
                    acc = j == 0 ? part : acc + part;
                }
                out[e] = b[e] + acc;
            }
        }
    }
}
