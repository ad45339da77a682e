package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Kernels;

import java.util.List;

/**
 * SLERP: spherical linear interpolation between the base model (t = 0) and the other model
 * (t = 1). Method stage.
 *
 * <pre>
 *   a, b  = base and other, as float32;  |a|, |b| Euclidean norms of the whole tensors
 *   au    = a/|a| if |a| > 1e-8 else a;   bu likewise
 *   dot   = sum(au * bu)
 *   if |dot| > 0.9995:  out = (1-t)·a + t·b                      (near-colinear: plain lerp)
 *   else:  θ0 = acos(dot), θt = θ0·t
 *          out = sin(θ0-θt)/sin θ0 · a + sin θt/sin θ0 · b        (magnitudes are not renormalised)
 *   result rounded to the working dtype
 * </pre>
 * Reference: https://en.wikipedia.org/wiki/Slerp. All scalar steps are float32 as in mergekit
 * (NumPy ≥ 2); the two reductions are accumulated in eight interleaved double sums keyed by
 * element index ({@link Kernels#slerpSums}) and rounded once, so they do not depend on chunking,
 * threads or vector width. One measuring pass (the norms and a·b, so dot = a·b / (|a|·|b|),
 * equal to the dot of the normalised copies up to float32 rounding) precedes the output pass.
 */
public final class Slerp implements MergeMethod {

    static final float DOT_THRESHOLD = 0.9995f;
    static final float EPS = 1e-8f;

    @Override
    public String name() {
        return "slerp";
    }

    @Override
    public String prettyName() {
        return "SLERP";
    }

    @Override
    public String referenceUrl() {
        return "https://en.wikipedia.org/wiki/Slerp";
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
        if (operands > 2) {
            return "slerp merges exactly two models, got " + operands;
        }
        if (baseIndex < 0) {
            return "slerp needs the base model among its two inputs";
        }
        return null;
    }

    @Override
    public String operandHint() {
        return "list exactly two models, one of them the base_model; use multislerp or linear for more";
    }

    @Override
    public boolean isIdentity(MergeContext ctx) {
        return ctx.operands() == 1;
    }

    @Override
    public TensorMerge prepare(MergeContext ctx) {
        return new Pass(ctx);
    }

    private static final class Pass implements TensorMerge {
        private final DType d;
        private final int base;
        private final int other;
        private final double t;
        /** Eight interleaved sums each ({@link Kernels#sumSquares}): ‖a‖², ‖b‖², then the dot product. */
        private final double[] sqA = new double[8];
        private final double[] sqB = new double[8];
        private final double[] dotAcc = new double[8];
        private float normA;
        private float normB;
        private float c0;
        private float c1;

        Pass(MergeContext ctx) {
            this.d = ctx.workDtype();
            this.base = ctx.baseIndex();
            this.other = 1 - base;
            this.t = ctx.global("t");
        }

        /**
         * One pass: the norms and the dot product a·b, which divided by the norms is the dot of the
         * normalised copies (mergekit's order: normalise, then dot) up to float32 rounding, which
         * only feeds the colinearity test and acos. A second pass over the inputs is saved.
         */
        @Override
        public int measuringPasses() {
            return 1;
        }

        @Override
        public void measure(int pass, float[][] in, int n, long offset) {
            float[] a = in[base];
            float[] b = in[other];
            Kernels.slerpSums(a, b, n, offset, sqA, sqB, dotAcc);
        }

        @Override
        public void endPass(int pass) {
            normA = (float) Math.sqrt(Kernels.total(sqA));
            normB = (float) Math.sqrt(Kernels.total(sqB));
            // a vector whose norm is at most EPS is used as it is, not normalised
            double na = normA > EPS ? normA : 1.0;
            double nb = normB > EPS ? normB : 1.0;
            float dot = (float) (Kernels.total(dotAcc) / (na * nb));
            if (Math.abs(dot) > DOT_THRESHOLD) {
                c0 = (float) (1 - t);
                c1 = (float) t;
                return;
            }
            float theta0 = (float) Math.acos(dot);
            float sinTheta0 = (float) Math.sin(theta0);
            float thetaT = theta0 * (float) t;
            float sinThetaT = (float) Math.sin(thetaT);
            c0 = (float) Math.sin(theta0 - thetaT) / sinTheta0;
            c1 = sinThetaT / sinTheta0;
        }

        @Override
        public void apply(float[][] in, int n, long offset, float[] out) {
            float[] a = in[base];
            float[] b = in[other];
            Kernels.lerp(d, c0, a, c1, b, out, n);
        }
    }
}
