package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;

import java.util.Arrays;

/**
 * Scalar helpers of the method stage's spherical methods ({@link NuSlerp}, {@link MultiSlerp},
 * {@link Karcher}): torch's rounding of norms, angles and epsilon guards to the working dtype D
 * (merge-methods §2.3, §2.4, §2.6).
 */
final class Spherical {

    private Spherical() {
    }

    /** The operand indices other than {@code base}, in recipe order. */
    static int[] others(int operands, int base) {
        int[] o = new int[base >= 0 ? operands - 1 : operands];
        for (int k = 0, j = 0; k < operands; k++) {
            if (k != base) {
                o[j++] = k;
            }
        }
        return o;
    }

    /** A reduction accumulated in double: rounded once to float32, then to D. */
    static float reduced(DType d, double acc) {
        return Codec.round(d, (float) acc);
    }

    /** A Euclidean norm from its sum of squares, rounded to D as torch's {@code norm} of a D tensor. */
    static float norm(DType d, double sumSquares) {
        return Codec.round(d, (float) Math.sqrt(sumSquares));
    }

    /** R(acos x). */
    static float acos(DType d, float x) {
        return Codec.round(d, (float) Math.acos(x));
    }

    /** R(sin x). */
    static float sin(DType d, float x) {
        return Codec.round(d, (float) Math.sin(x));
    }

    /** R(cos x). */
    static float cos(DType d, float x) {
        return Codec.round(d, (float) Math.cos(x));
    }

    /** A Python scalar added to or compared with a D tensor: RS(s). */
    static float scalar(DType d, double s) {
        return Codec.round(d, (float) s);
    }

    /**
     * An epsilon guard: RS(eps) as mergekit compares it, except where D rounds a non-zero eps to
     * zero (1e-8 in float16), which would disable the guard: there eps stays float32.
     */
    static float guard(DType d, double eps) {
        float g = scalar(d, eps);
        return g == 0f && eps != 0 ? (float) eps : g;
    }

    /**
     * A sum of squares for a Euclidean norm, fed in element order (chunk boundaries do not
     * matter). Wide: accumulated in double, as a norm that is then rounded to float16 or
     * bfloat16 needs. Torch order: torch's float32 2-norm of a contiguous vector on x86 CPUs with
     * AVX2 kernels, needed where a float32 norm is used unrounded: eight float32 lanes, lane j
     * summing the squares of elements j, j+8, j+16, … in order; then the lanes added left to
     * right, then the squares of the last {@code length % 8} elements one by one. Products are
     * exact for float16 and bfloat16 values; for other float32 values they are rounded before
     * the add (whether torch's build fuses them is not verified).
     */
    static final class SquareSum {
        private static final int LANES = 8;
        private final long vectorEnd;
        private final float[] lanes;
        private final float[] tail;
        private double wide;

        SquareSum(long length, boolean torchOrder) {
            this.vectorEnd = length - length % LANES;
            this.lanes = torchOrder ? new float[LANES] : null;
            this.tail = torchOrder ? new float[LANES] : null;
        }

        /** Torch order for a float32 working dtype, where the norm is not rounded further. */
        static SquareSum of(DType d, long length) {
            return new SquareSum(length, d == DType.F32);
        }

        /** Adds element {@code pos} of the vector. */
        void add(long pos, float x) {
            if (lanes == null) {
                wide += (double) x * x;
            } else if (pos < vectorEnd) {
                lanes[(int) (pos & (LANES - 1))] += x * x;
            } else {
                tail[(int) (pos - vectorEnd)] = x;
            }
        }

        /** The float32 norm; starts the sum afresh. */
        float norm() {
            if (lanes == null) {
                float r = (float) Math.sqrt(wide);
                wide = 0;
                return r;
            }
            float s = lanes[0];
            for (int j = 1; j < LANES; j++) {
                s += lanes[j];
            }
            for (float t : tail) {
                s += t * t;
            }
            Arrays.fill(lanes, 0f);
            Arrays.fill(tail, 0f);
            return (float) Math.sqrt(s);
        }
    }
}
