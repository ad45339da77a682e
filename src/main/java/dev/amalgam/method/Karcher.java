package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Karcher mean: the Riemannian (Fréchet) mean of the models' directions on the unit
 * hypersphere, found by fixed-point iteration, scaled by their mean norm. Method stage.
 *
 * <pre>
 *   n_i = |x_i| (float32);  U_i = R(x_i / n_i);  valid: n_i &gt; tol;  a_i = 1/|valid|
 *   u   = R(Σ_valid R(a_i·U_i))  (left to right);  u = U_first if |u| &lt; tol else R(u / |u|)
 *   repeat max_iter times:
 *     for valid i:  c_i = clamp(R(u·U_i), -1, 1);  θ_i = R(acos c_i);  skip if θ_i &lt; tol
 *                   T = R(T + R(R(a_i·R(θ_i / R(sin θ_i)))·R(U_i - R(c_i·u))))
 *     if |T| &lt; tol: stop
 *     u = R(R(R(cos |T|)·u) + R(R(sin |T|)·R(T / |T|)));  if |u| &gt; tol: u = R(u / |u|)
 *   result = R(u · Σ_i n_i / N)          (N counts every model; a zero norm adds 0)
 * </pre>
 * R rounds to the working dtype D after every step, as mergekit's torch code does
 * (merge-methods §3.5). |·| are float32 norms, used unrounded and compared with tol in double;
 * they are summed in torch's CPU order ({@link Spherical.SquareSum}), because over many float16
 * iterations their last bit shows in the result. Dot products accumulate exact products in
 * double and are rounded once. There is no per-model weight, and, as in mergekit, a configured
 * base model is one of the averaged models (§6 #4). Reference:
 * https://en.wikipedia.org/wiki/Karcher_mean.
 *
 * <p>Streaming: the current mean u is never stored. Every element of u after k iterations is
 * a function of that element of the inputs and of the scalars (norms, c_i, θ_i, |T|, |u|) of
 * the earlier passes, so each pass recomputes it per chunk: pass 0 takes the norms, pass 1
 * the initial mean's norm, and each iteration three passes (the dots; |T|; the new |u|), so
 * there are {@code 2 + 3·max_iter} measuring passes; after convergence the remaining ones do
 * nothing and the executor stops asking for them. Time grows with max_iter squared, memory does not
 * grow with the tensor.
 *
 * <p>Deviation: embedding matrices of different vocabulary sizes are cropped to the common
 * size (the planner's rectification); mergekit's rectification has no effect here and it
 * fails on the shape mismatch.
 */
public final class Karcher implements MergeMethod {

    /** Upper bound on {@code max_iter}: every iteration is three passes over the tensor. */
    static final int MAX_ITERATIONS = 100_000;

    @Override
    public String name() {
        return "karcher";
    }

    @Override
    public String prettyName() {
        return "Karcher Mean";
    }

    @Override
    public String referenceUrl() {
        return "https://en.wikipedia.org/wiki/Karcher_mean";
    }

    @Override
    public List<ParamSpec> globalParameters() {
        return List.of(ParamSpec.optional("max_iter", 10.0), ParamSpec.optional("tol", 1e-5));
    }

    @Override
    public List<ParamSpec> perModelParameters() {
        return List.of();
    }

    @Override
    public BaseRule baseRule() {
        return BaseRule.UNUSED;
    }

    @Override
    public String checkOperands(int operands, int baseIndex) {
        return operands < 1 ? "karcher needs at least one model" : null;
    }

    @Override
    public String checkParameters(MergeContext ctx) {
        Double it = ctx.global("max_iter");
        if (it == null || it != Math.rint(it) || it < 0 || it > MAX_ITERATIONS) {
            return String.format(Locale.ROOT, "max_iter must be a whole number from 0 to %d, got %s", MAX_ITERATIONS,
                    it);
        }
        Double tol = ctx.global("tol");
        return tol == null || !(tol >= 0) || Double.isInfinite(tol)
                ? "tol must be a non-negative number, got " + tol : null;
    }

    @Override
    public boolean isIdentity(MergeContext ctx) {
        return ctx.operands() == 1;
    }

    @Override
    public TensorMerge prepare(MergeContext ctx) {
        if (ctx.operands() == 1) {
            return (in, n, offset, out) -> System.arraycopy(in[0], 0, out, 0, n);
        }
        return new Pass(ctx.workDtype(), ctx.operands(), (int) (double) ctx.global("max_iter"), ctx.global("tol"),
                ctx.numel());
    }

    /** One tensor: the measuring passes described above, then u scaled by the mean norm. */
    private static final class Pass implements TensorMerge {
        private final DType d;
        private final int operands;
        private final int maxIter;
        private final double tol;
        private final double[] dots;
        private final Spherical.SquareSum[] inputNorms;
        private final Spherical.SquareSum sq;
        private final float[] norm;
        private int[] valid = new int[0];
        private float[] alpha = new float[0];
        private double scale;
        private boolean none;
        private float meanNorm;
        private float[][] c = new float[0][0];
        private float[][] k = new float[0][0];
        private boolean[][] skip = new boolean[0][0];
        private final float[] tangentNorm;
        private final float[] cosT;
        private final float[] sinT;
        private final float[] unitNorm;
        private int done;
        private int lastPass = -1;
        private boolean converged;
        private float[][] unit = new float[0][0];
        private float[] u = new float[0];
        private float[] tangent = new float[0];

        Pass(DType d, int operands, int maxIter, double tol, long numel) {
            this.d = d;
            this.operands = operands;
            this.maxIter = maxIter;
            this.tol = tol;
            this.dots = new double[operands];
            this.inputNorms = new Spherical.SquareSum[operands];
            this.norm = new float[operands];
            this.tangentNorm = new float[maxIter];
            this.cosT = new float[maxIter];
            this.sinT = new float[maxIter];
            this.unitNorm = new float[maxIter];
            this.sq = new Spherical.SquareSum(numel, true);
            for (int i = 0; i < operands; i++) {
                inputNorms[i] = new Spherical.SquareSum(numel, true);
            }
        }

        /** All passes until the iteration converges (or has no inputs); then none beyond the current one. */
        @Override
        public int measuringPasses() {
            return (none || converged) && lastPass >= 0 ? lastPass + 1 : 2 + 3 * maxIter;
        }

        @Override
        public void measure(int pass, float[][] in, int n, long offset) {
            if (pass == 0) {
                for (int i = 0; i < operands; i++) {
                    add(inputNorms[i], in[i], n, offset);
                }
                return;
            }
            if (none || converged) {
                return;
            }
            units(in, n);
            if (pass == 1) {
                add(sq, u, n, offset);
                return;
            }
            int it = (pass - 2) / 3;
            replay(it, n);
            switch ((pass - 2) % 3) {
                case 0 -> {
                    for (int j = 0; j < valid.length; j++) {
                        double s = 0;
                        float[] uj = unit[j];
                        for (int e = 0; e < n; e++) {
                            s += (double) u[e] * uj[e];
                        }
                        dots[j] += s;
                    }
                }
                case 1 -> {
                    tangent(it, n);
                    add(sq, tangent, n, offset);
                }
                default -> {
                    tangent(it, n);
                    advance(it, n);
                    add(sq, u, n, offset);
                }
            }
        }

        @Override
        public void endPass(int pass) {
            lastPass = pass;
            if (pass == 0) {
                norms();
                return;
            }
            if (none || converged) {
                return;
            }
            float root = sq.norm();
            if (pass == 1) {
                meanNorm = root;
                return;
            }
            int it = (pass - 2) / 3;
            switch ((pass - 2) % 3) {
                case 0 -> angles(it);
                case 1 -> {
                    tangentNorm[it] = root;
                    converged = root < tol;
                    cosT[it] = Spherical.cos(d, root);
                    sinT[it] = Spherical.sin(d, root);
                }
                default -> {
                    unitNorm[it] = root;
                    done = it + 1;
                }
            }
        }

        private void norms() {
            double alphaAll = 1.0 / operands;
            int count = 0;
            int[] v = new int[operands];
            for (int i = 0; i < operands; i++) {
                norm[i] = inputNorms[i].norm();
                scale += alphaAll * norm[i];
                if (norm[i] > tol) {
                    v[count++] = i;
                }
            }
            valid = Arrays.copyOf(v, count);
            none = count == 0;
            double alphaSum = 0;
            for (int j = 0; j < count; j++) {
                alphaSum += alphaAll;
            }
            alpha = new float[count];
            Arrays.fill(alpha, (float) (alphaAll / alphaSum));
            c = new float[maxIter][count];
            k = new float[maxIter][count];
            skip = new boolean[maxIter][count];
        }

        private void angles(int it) {
            for (int j = 0; j < valid.length; j++) {
                float cj = Math.clamp(Spherical.reduced(d, dots[j]), -1f, 1f);
                float theta = Spherical.acos(d, cj);
                c[it][j] = cj;
                skip[it][j] = theta < tol;
                k[it][j] = Codec.round(d, alpha[j] * Codec.round(d, theta / Spherical.sin(d, theta)));
                dots[j] = 0;
            }
        }

        /** The unit vectors of the valid models and the unnormalised initial mean (into u). */
        private void units(float[][] in, int n) {
            if (u.length < n) {
                unit = new float[valid.length][n];
                u = new float[n];
                tangent = new float[n];
            }
            for (int j = 0; j < valid.length; j++) {
                float[] x = in[valid[j]];
                float nj = norm[valid[j]];
                float[] uj = unit[j];
                for (int e = 0; e < n; e++) {
                    uj[e] = Codec.round(d, x[e] / nj);
                }
            }
            for (int e = 0; e < n; e++) {
                float m = 0f;
                for (int j = 0; j < valid.length; j++) {
                    m = Codec.round(d, m + Codec.round(d, alpha[j] * unit[j][e]));
                }
                u[e] = m;
            }
        }

        /** Turns the initial mean into u after {@code iterations} completed iterations. */
        private void replay(int iterations, int n) {
            if (meanNorm < tol) {
                System.arraycopy(unit[0], 0, u, 0, n);
            } else {
                divide(meanNorm, n);
            }
            for (int it = 0; it < iterations; it++) {
                tangent(it, n);
                advance(it, n);
                if (unitNorm[it] > tol) {
                    divide(unitNorm[it], n);
                }
            }
        }

        private void divide(float by, int n) {
            for (int e = 0; e < n; e++) {
                u[e] = Codec.round(d, u[e] / by);
            }
        }

        private void tangent(int it, int n) {
            Arrays.fill(tangent, 0, n, 0f);
            for (int j = 0; j < valid.length; j++) {
                if (skip[it][j]) {
                    continue;
                }
                float cj = c[it][j];
                float kj = k[it][j];
                float[] uj = unit[j];
                for (int e = 0; e < n; e++) {
                    float toward = Codec.round(d, uj[e] - Codec.round(d, cj * u[e]));
                    tangent[e] = Codec.round(d, tangent[e] + Codec.round(d, kj * toward));
                }
            }
        }

        private void advance(int it, int n) {
            float tn = tangentNorm[it];
            float cs = cosT[it];
            float sn = sinT[it];
            for (int e = 0; e < n; e++) {
                float along = Codec.round(d, sn * Codec.round(d, tangent[e] / tn));
                u[e] = Codec.round(d, Codec.round(d, cs * u[e]) + along);
            }
        }

        private static void add(Spherical.SquareSum s, float[] v, int n, long offset) {
            for (int e = 0; e < n; e++) {
                s.add(offset + e, v[e]);
            }
        }

        @Override
        public void apply(float[][] in, int n, long offset, float[] out) {
            if (none) {
                Arrays.fill(out, 0, n, 0f);
                return;
            }
            units(in, n);
            replay(done, n);
            float s = (float) scale;
            for (int e = 0; e < n; e++) {
                out[e] = Codec.round(d, s * u[e]);
            }
        }
    }
}
