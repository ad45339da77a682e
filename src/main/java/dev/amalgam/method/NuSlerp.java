package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;

import java.util.List;

/**
 * NuSLERP: spherical interpolation between two models, of the whole tensors or of each row or
 * column, optionally of their task vectors relative to a base model. Method stage.
 *
 * <pre>
 *   t      = w1 / (w0 + w1), or 0.5 when |w0 + w1| &lt; 1e-6      (t = 0 gives model 0, t = 1 model 1)
 *   v0, v1 = x0, x1, or R(x0 - base), R(x1 - base) with a base model
 *   for each vector pair (whole tensor; with nuslerp_flatten false each row, or each fibre along
 *   axis 0 (column) with nuslerp_row_wise true; a 1-D tensor is one vector in every mode):
 *     n0 = max(R(|v0|), R(1e-7));  u0 = R(v0 / n0);  n1, u1 likewise
 *     c  = R(Σ R(u0·u1));  θ = R(acos(clamp(c, -1, 1)));  s = R(sin θ)
 *     if |s| &lt; 1e-8:  out = R(R((1-t)·v0) + R(t·v1))                       (colinear: lerp)
 *     else:            out = R(R(R(R(sin R((1-t)·θ))·v0) + R(R(sin R(t·θ))·v1)) / s)
 *   result = out, or R(base + out)
 * </pre>
 * R rounds to the working dtype D after every step, as mergekit's torch code does
 * (merge-methods §3.3); sums are accumulated in double and rounded once, except float32 norms
 * of whole tensors and rows, which follow torch's order ({@link Spherical.SquareSum}).
 * Reference: mergekit's nuslerp (no paper). Whole-tensor and per-column statistics take two
 * measuring passes (norms, then the dot of the rounded unit vectors), per column in arrays of
 * the column count; per-row vectors are handled inside whole-row chunks in the applying pass.
 *
 * <p>Deviation: in float16, mergekit's colinearity guard 1e-8 rounds to 0, so exactly colinear
 * vectors (e.g. near-identical norm weights, whose cosine rounds to 1) give 0/0 = NaN. Here the
 * guard is compared in float32 where D rounds it to zero, so colinear vectors fall back to
 * linear interpolation as intended. Everywhere else the result is mergekit's.
 */
public final class NuSlerp implements MergeMethod {

    static final double NORM_EPS = 1e-7;
    static final double COLINEAR_EPS = 1e-8;

    @Override
    public String name() {
        return "nuslerp";
    }

    @Override
    public String prettyName() {
        return "NuSLERP";
    }

    @Override
    public String referenceUrl() {
        return null;
    }

    @Override
    public List<ParamSpec> globalParameters() {
        return List.of(ParamSpec.flag("nuslerp_row_wise", false), ParamSpec.flag("nuslerp_flatten", true));
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
        if (operands == 1) {
            return null;
        }
        if (baseIndex >= 0 && operands == 2) {
            return "nuslerp's base model can not be one of the two models it merges";
        }
        int models = baseIndex >= 0 ? operands - 1 : operands;
        return models == 2 ? null : "nuslerp merges exactly two models (plus an optional base model), got " + models;
    }

    @Override
    public String operandHint() {
        return "list exactly two models; a base_model, if any, must be a third model; use multislerp for more";
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
        int[] m = Spherical.others(ctx.operands(), ctx.baseIndex());
        double w0 = ctx.param(m[0], "weight");
        double w1 = ctx.param(m[1], "weight");
        double t = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
        DType d = ctx.workDtype();
        long[] shape = ctx.shape();
        boolean flatten = ctx.flag("nuslerp_flatten") || shape.length < 2;
        if (!flatten && !ctx.flag("nuslerp_row_wise")) {
            int row = Math.toIntExact(ctx.rowLength());
            return new Pass(d, m[0], m[1], ctx.baseIndex(), row, new Vectors(d, t, 1, row));
        }
        long fibres = flatten || shape[0] == 0 ? 1 : ctx.numel() / shape[0];
        return new Pass(d, m[0], m[1], ctx.baseIndex(), 0,
                new Vectors(d, t, Math.toIntExact(fibres), ctx.numel() / fibres));
    }

    /**
     * One tensor. With {@code row > 0} every row (last dimension) is a vector and is merged
     * within its chunk; otherwise element e belongs to vector {@code e % fibres} (1: the whole
     * tensor; the column count: fibres along axis 0) and two measuring passes come first.
     */
    private static final class Pass implements TensorMerge {
        private final DType d;
        private final int i0;
        private final int i1;
        private final int base;
        private final int row;
        private final Vectors v;

        Pass(DType d, int i0, int i1, int base, int row, Vectors v) {
            this.d = d;
            this.i0 = i0;
            this.i1 = i1;
            this.base = base;
            this.row = row;
            this.v = v;
        }

        @Override
        public boolean rowAligned() {
            return row > 0;
        }

        @Override
        public int measuringPasses() {
            return row > 0 ? 0 : 2;
        }

        private float v0(float[][] in, int e) {
            return base < 0 ? in[i0][e] : Codec.round(d, in[i0][e] - in[base][e]);
        }

        private float v1(float[][] in, int e) {
            return base < 0 ? in[i1][e] : Codec.round(d, in[i1][e] - in[base][e]);
        }

        @Override
        public void measure(int pass, float[][] in, int n, long offset) {
            int fibres = v.n0.length;
            int k = (int) (offset % fibres);
            for (int e = 0; e < n; e++) {
                if (pass == 0) {
                    v.addSquares(k, offset + e, v0(in, e), v1(in, e));
                } else {
                    v.addDot(k, v0(in, e), v1(in, e));
                }
                if (++k == fibres) {
                    k = 0;
                }
            }
        }

        @Override
        public void endPass(int pass) {
            if (pass == 0) {
                v.endSquares();
            } else {
                v.endDots();
            }
        }

        @Override
        public void apply(float[][] in, int n, long offset, float[] out) {
            if (row > 0) {
                for (int start = 0; start < n; start += row) {
                    v.reset();
                    measureRow(0, in, start);
                    v.endSquares();
                    measureRow(1, in, start);
                    v.endDots();
                    finish(in, start, row, 0, out);
                }
            } else {
                finish(in, 0, n, (int) (offset % v.n0.length), out);
            }
        }

        private void measureRow(int pass, float[][] in, int start) {
            for (int e = start; e < start + row; e++) {
                if (pass == 0) {
                    v.addSquares(0, e - start, v0(in, e), v1(in, e));
                } else {
                    v.addDot(0, v0(in, e), v1(in, e));
                }
            }
        }

        private void finish(float[][] in, int start, int n, int k, float[] out) {
            int fibres = v.n0.length;
            for (int e = start; e < start + n; e++) {
                float r = v.out(k, v0(in, e), v1(in, e));
                out[e] = base < 0 ? r : Codec.round(d, in[base][e] + r);
                if (++k == fibres) {
                    k = 0;
                }
            }
        }
    }

    /**
     * Statistics and coefficients of a set of vector pairs, indexed by vector. A single pair's
     * norms use {@link Spherical.SquareSum} (torch's order for float32, where they stay
     * unrounded); several (columns) accumulate in double.
     */
    private static final class Vectors {
        private final DType d;
        private final float tA;
        private final float tB;
        private final float normEps;
        private final float colinear;
        private final Spherical.SquareSum single0;
        private final Spherical.SquareSum single1;
        private final double[] sq0;
        private final double[] sq1;
        private final double[] dot;
        final float[] n0;
        private final float[] n1;
        private final float[] a;
        private final float[] b;
        private final float[] s;
        private final boolean[] lerp;

        Vectors(DType d, double t, int count, long length) {
            this.d = d;
            this.tA = (float) (1 - t);
            this.tB = (float) t;
            this.normEps = Spherical.scalar(d, NORM_EPS);
            this.colinear = Spherical.guard(d, COLINEAR_EPS);
            this.single0 = count == 1 ? Spherical.SquareSum.of(d, length) : null;
            this.single1 = count == 1 ? Spherical.SquareSum.of(d, length) : null;
            sq0 = new double[count];
            sq1 = new double[count];
            dot = new double[count];
            n0 = new float[count];
            n1 = new float[count];
            a = new float[count];
            b = new float[count];
            s = new float[count];
            lerp = new boolean[count];
        }

        void reset() {
            dot[0] = 0;
        }

        /** Adds element {@code pos} of pair {@code k}. */
        void addSquares(int k, long pos, float v0, float v1) {
            if (single0 != null) {
                single0.add(pos, v0);
                single1.add(pos, v1);
            } else {
                sq0[k] += (double) v0 * v0;
                sq1[k] += (double) v1 * v1;
            }
        }

        void endSquares() {
            if (single0 != null) {
                n0[0] = Math.max(Codec.round(d, single0.norm()), normEps);
                n1[0] = Math.max(Codec.round(d, single1.norm()), normEps);
                return;
            }
            for (int k = 0; k < n0.length; k++) {
                n0[k] = Math.max(Spherical.norm(d, sq0[k]), normEps);
                n1[k] = Math.max(Spherical.norm(d, sq1[k]), normEps);
            }
        }

        void addDot(int k, float v0, float v1) {
            dot[k] += Codec.round(d, Codec.round(d, v0 / n0[k]) * Codec.round(d, v1 / n1[k]));
        }

        void endDots() {
            for (int k = 0; k < n0.length; k++) {
                float c = Math.clamp(Spherical.reduced(d, dot[k]), -1f, 1f);
                float theta = Spherical.acos(d, c);
                s[k] = Spherical.sin(d, theta);
                lerp[k] = Math.abs(s[k]) < colinear;
                a[k] = Spherical.sin(d, Codec.round(d, tA * theta));
                b[k] = Spherical.sin(d, Codec.round(d, tB * theta));
            }
        }

        float out(int k, float v0, float v1) {
            if (lerp[k]) {
                return Codec.round(d, Codec.round(d, tA * v0) + Codec.round(d, tB * v1));
            }
            float sum = Codec.round(d, Codec.round(d, a[k] * v0) + Codec.round(d, b[k] * v1));
            return Codec.round(d, sum / s[k]);
        }
    }
}
