package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;

import java.util.List;
import java.util.Locale;

/**
 * Multi-SLERP: a weighted barycentre of any number of models on the hypersphere, by one step
 * in the tangent space at their normalised weighted mean, optionally of task vectors relative
 * to a base model. Method stage.
 *
 * <pre>
 *   X_i  = x_i, or R(x_i - base), each flattened to one vector      (models in recipe order)
 *   w_i  = R(weight_i);  with normalize_weights: w_i = R(w_i / R(Σ w))
 *   n_i  = R(|X_i|);  U_i = R(X_i / R(n_i + eps))
 *   m    = R(Σ_i R(U_i·w_i));  if R(|m|) &lt; eps: return R(R(X_0·w_0) + R(X_1·w_1)) (+ base)
 *   m    = R(m / R(|m|));  d_i = R(Σ R(U_i·m));  T_i = R(U_i - R(d_i·m))
 *   tr   = R(Σ_i R(T_i·w_i));  tn = R(R(|tr|) + eps)
 *   out  = R(R(R(m·R(cos tn)) + R(tr·R(R(sin tn) / tn))) · R(Σ R(n_i·w_i)))   (+ base, rounded)
 * </pre>
 * A single model (besides the base) is returned unchanged. R rounds to the working dtype D after
 * every step as mergekit's torch code does (merge-methods §3.4); sums are accumulated in double
 * and rounded once, except float32 norms, which follow torch's order
 * ({@link Spherical.SquareSum}). Four measuring passes (norms; mean; dots; tangent norm) precede
 * the applying pass, each recomputing its per-element values from the inputs.
 * Reference: https://goddard.blog/posts/multislerp-wow-what-a-cool-idea.
 *
 * <p>Deviation: mergekit orders the models by Python set iteration; here they are in recipe
 * order, which can change a sum in its last bit.
 *
 * <p>Deviation: in float16 mergekit's eps 1e-8 rounds to 0, so a zero task vector (a model equal
 * to the base), a zero mean or a zero tangent gives 0/0 = NaN. Here the zero-mean guard is
 * compared in float32, a vector whose norm is zero has a zero unit vector, and a zero tangent
 * norm takes the limits cos 0 = 1 and sin x / x = 1.
 *
 * <p>Deviation: when the weighted mean vanishes with more than two models, mergekit raises an
 * error; here the models are combined linearly, as mergekit does for two.
 *
 * <p>Deviation: embedding matrices of different vocabulary sizes are cropped to the common
 * size (the planner's rectification); mergekit fails on the shape mismatch.
 */
public final class MultiSlerp implements MergeMethod {

    @Override
    public String name() {
        return "multislerp";
    }

    @Override
    public String prettyName() {
        return "Multi-SLERP";
    }

    @Override
    public String referenceUrl() {
        return "https://goddard.blog/posts/multislerp-wow-what-a-cool-idea";
    }

    @Override
    public List<ParamSpec> globalParameters() {
        return List.of(ParamSpec.flag("normalize_weights", true), ParamSpec.optional("eps", 1e-8));
    }

    @Override
    public List<ParamSpec> perModelParameters() {
        return List.of(ParamSpec.required("weight"));
    }

    @Override
    public BaseRule baseRule() {
        return BaseRule.OPTIONAL;
    }

    @Override
    public String checkOperands(int operands, int baseIndex) {
        return operands - (baseIndex >= 0 ? 1 : 0) < 1 ? "multislerp needs at least one model besides the base model"
                : null;
    }

    @Override
    public String operandHint() {
        return "list the models to merge under models:";
    }

    @Override
    public String checkParameters(MergeContext ctx) {
        Double eps = ctx.global("eps");
        if (eps == null || !(eps >= 0) || Double.isInfinite(eps)) {
            return "eps must be a non-negative number, got " + eps;
        }
        int[] m = Spherical.others(ctx.operands(), ctx.baseIndex());
        if (m.length < 2 || !ctx.flag("normalize_weights")) {
            return null;
        }
        double[] w = new double[m.length];
        for (int j = 0; j < m.length; j++) {
            w[j] = ctx.param(m[j], "weight");
        }
        float sum = Linear.weightSum(ctx.workDtype(), w);
        return sum == 0f || !Float.isFinite(sum) ? String.format(Locale.ROOT,
                "the weights sum to %s in %s, and normalize_weights divides by their sum", sum,
                ctx.workDtype().torchName()) : null;
    }

    @Override
    public boolean isIdentity(MergeContext ctx) {
        return ctx.operands() == 1;
    }

    @Override
    public TensorMerge prepare(MergeContext ctx) {
        int[] m = Spherical.others(ctx.operands(), ctx.baseIndex());
        if (m.length == 1) {
            int only = m[0];
            return (in, n, offset, out) -> System.arraycopy(in[only], 0, out, 0, n);
        }
        return new Pass(ctx, m);
    }

    /** One tensor: four measuring passes, then the output. */
    private static final class Pass implements TensorMerge {
        private final DType d;
        private final int[] models;
        private final int base;
        private final float[] w;
        private final float eps;
        private final float meanGuard;
        private final Spherical.SquareSum[] squares;
        private final Spherical.SquareSum sq;
        private final double[] dotSums;
        private final float[] norm;
        private final float[] denominator;
        private final float[] dots;
        private float meanNorm;
        private boolean linear;
        private float cosT;
        private float sinc;
        private float avgNorm;
        private float[][] unit = new float[0][0];
        private float[] mean = new float[0];
        private float[] tangent = new float[0];

        Pass(MergeContext ctx, int[] models) {
            this.d = ctx.workDtype();
            this.models = models;
            this.base = ctx.baseIndex();
            int n = models.length;
            this.w = new float[n];
            double[] raw = new double[n];
            for (int j = 0; j < n; j++) {
                raw[j] = ctx.param(models[j], "weight");
                w[j] = Codec.round(d, (float) raw[j]);
            }
            if (ctx.flag("normalize_weights")) {
                float sum = Linear.weightSum(d, raw);
                for (int j = 0; j < n; j++) {
                    w[j] = Codec.round(d, w[j] / sum);
                }
            }
            double e = ctx.global("eps");
            this.eps = Spherical.scalar(d, e);
            this.meanGuard = Spherical.guard(d, e);
            this.squares = new Spherical.SquareSum[n];
            for (int j = 0; j < n; j++) {
                squares[j] = Spherical.SquareSum.of(d, ctx.numel());
            }
            this.sq = Spherical.SquareSum.of(d, ctx.numel());
            this.dotSums = new double[n];
            this.norm = new float[n];
            this.denominator = new float[n];
            this.dots = new float[n];
        }

        @Override
        public int measuringPasses() {
            return 4;
        }

        private float x(float[][] in, int j, int e) {
            float v = in[models[j]][e];
            return base < 0 ? v : Codec.round(d, v - in[base][e]);
        }

        /** Fills the unit vectors and the weighted mean m (unnormalised) of one chunk. */
        private void units(float[][] in, int n) {
            if (mean.length < n) {
                unit = new float[models.length][n];
                mean = new float[n];
                tangent = new float[n];
            }
            for (int j = 0; j < models.length; j++) {
                float den = denominator[j];
                float[] u = unit[j];
                for (int e = 0; e < n; e++) {
                    u[e] = den == 0f ? 0f : Codec.round(d, x(in, j, e) / den);
                }
            }
            for (int e = 0; e < n; e++) {
                float s = Codec.round(d, unit[0][e] * w[0]);
                for (int j = 1; j < models.length; j++) {
                    s += Codec.round(d, unit[j][e] * w[j]);
                }
                mean[e] = Codec.round(d, s);
            }
        }

        /** Normalises the mean and fills the tangent mean tr of one chunk (after {@link #units}). */
        private void tangents(int n) {
            for (int e = 0; e < n; e++) {
                float m = Codec.round(d, mean[e] / meanNorm);
                mean[e] = m;
                float s = 0f;
                for (int j = 0; j < models.length; j++) {
                    float tg = Codec.round(d, unit[j][e] - Codec.round(d, dots[j] * m));
                    float p = Codec.round(d, tg * w[j]);
                    s = j == 0 ? p : s + p;
                }
                tangent[e] = Codec.round(d, s);
            }
        }

        @Override
        public void measure(int pass, float[][] in, int n, long offset) {
            if (pass == 0) {
                for (int j = 0; j < models.length; j++) {
                    for (int e = 0; e < n; e++) {
                        squares[j].add(offset + e, x(in, j, e));
                    }
                }
                return;
            }
            if (linear) {
                return;
            }
            units(in, n);
            if (pass == 1) {
                add(mean, n, offset);
            } else if (pass == 2) {
                for (int j = 0; j < models.length; j++) {
                    double s = 0;
                    for (int e = 0; e < n; e++) {
                        s += Codec.round(d, unit[j][e] * Codec.round(d, mean[e] / meanNorm));
                    }
                    dotSums[j] += s;
                }
            } else {
                tangents(n);
                add(tangent, n, offset);
            }
        }

        private void add(float[] v, int n, long offset) {
            for (int e = 0; e < n; e++) {
                sq.add(offset + e, v[e]);
            }
        }

        @Override
        public void endPass(int pass) {
            switch (pass) {
                case 0 -> {
                    double avg = 0;
                    for (int j = 0; j < models.length; j++) {
                        norm[j] = Codec.round(d, squares[j].norm());
                        denominator[j] = Codec.round(d, norm[j] + eps);
                        avg += Codec.round(d, norm[j] * w[j]);
                    }
                    avgNorm = Spherical.reduced(d, avg);
                }
                case 1 -> {
                    meanNorm = Codec.round(d, sq.norm());
                    linear = meanNorm < meanGuard || meanNorm == 0f;
                }
                case 2 -> {
                    for (int j = 0; j < models.length; j++) {
                        dots[j] = Spherical.reduced(d, dotSums[j]);
                    }
                }
                default -> {
                    if (linear) {
                        return;
                    }
                    float tn = Codec.round(d, Codec.round(d, sq.norm()) + eps);
                    cosT = tn == 0f ? 1f : Spherical.cos(d, tn);
                    sinc = tn == 0f ? 1f : Codec.round(d, Spherical.sin(d, tn) / tn);
                }
            }
        }

        @Override
        public void apply(float[][] in, int n, long offset, float[] out) {
            if (linear) {
                for (int e = 0; e < n; e++) {
                    float r = Codec.round(d, x(in, 0, e) * w[0]);
                    for (int j = 1; j < models.length; j++) {
                        r = Codec.round(d, r + Codec.round(d, x(in, j, e) * w[j]));
                    }
                    out[e] = base < 0 ? r : Codec.round(d, r + in[base][e]);
                }
                return;
            }
            units(in, n);
            tangents(n);
            for (int e = 0; e < n; e++) {
                float r = Codec.round(d, Codec.round(d, mean[e] * cosT) + Codec.round(d, tangent[e] * sinc));
                r = Codec.round(d, r * avgNorm);
                out[e] = base < 0 ? r : Codec.round(d, r + in[base][e]);
            }
        }
    }
}
