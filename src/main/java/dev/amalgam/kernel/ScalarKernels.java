package dev.amalgam.kernel;

import dev.amalgam.io.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The reference kernels: plain counted loops, one element at a time, exactly the arithmetic the
 * methods specify. Kernel stage. They define the results every other {@link KernelProvider} must
 * reproduce bit for bit, and they run wherever the Vector API is absent. C2 auto-vectorises the
 * float16 loops (F16C intrinsics), so the vector kernels keep them, but not the bfloat16 ones,
 * whose NaN test is a branch.
 */
final class ScalarKernels implements KernelProvider {

    static final ScalarKernels INSTANCE = new ScalarKernels();

    private static final ValueLayout.OfShort SHORT_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfChar CHAR_LE =
            ValueLayout.JAVA_CHAR_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private ScalarKernels() {
    }

    @Override
    public String describe() {
        return "scalar";
    }

    @Override
    public void decodeBf16(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            // an unsigned load needs no sign extension before the shift
            dst[dstOff + i] = Float.intBitsToFloat(src.get(CHAR_LE, off + 2L * i) << 16);
        }
    }

    @Override
    public void encodeBf16(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        for (int i = 0; i < n; i++) {
            dst.set(SHORT_LE, off + 2L * i, Codec.floatToBf16(src[srcOff + i]));
        }
    }

    @Override
    public void decodeF16(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = Float.float16ToFloat(src.get(SHORT_LE, off + 2L * i));
        }
    }

    @Override
    public void encodeF16(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        for (int i = 0; i < n; i++) {
            dst.set(SHORT_LE, off + 2L * i, Float.floatToFloat16(src[srcOff + i]));
        }
    }

    @Override
    public void roundBf16(float[] a, int off, int n) {
        for (int i = off; i < off + n; i++) {
            a[i] = Codec.bf16ToFloat(Codec.floatToBf16(a[i]));
        }
    }

    @Override
    public void roundF16(float[] a, int off, int n) {
        for (int i = off; i < off + n; i++) {
            a[i] = Float.float16ToFloat(Float.floatToFloat16(a[i]));
        }
    }

    @Override
    public void lerp(DType d, float c0, float[] a, float c1, float[] b, float[] out, int n) {
        lerpRange(d, c0, a, c1, b, out, 0, n);
    }

    @Override
    public void weightedSum(DType d, float[] w, float[][] in, int n, boolean normalize, float divisor, float[] out) {
        weightedSumRange(d, w, in, 0, n, normalize, divisor, out);
    }

    /** {@link #lerp} of elements [from, to) only: the vector kernels' tail, and their float16. */
    static void lerpRange(DType d, float c0, float[] a, float c1, float[] b, float[] out, int from, int to) {
        for (int e = from; e < to; e++) {
            out[e] = Codec.round(d, c0 * a[e] + c1 * b[e]);
        }
    }

    /**
     * {@link #weightedSum} in float16, operand by operand over the chunk instead of element by
     * element — the same operations on each element in the same order — so that every loop is one
     * F16C round trip that C2 vectorises.
     */
    static void weightedSumF16ByOperand(float[] w, float[][] in, int n, boolean normalize, float divisor,
                                        float[] out) {
        float w0 = w[0];
        float[] x0 = in[0];
        for (int e = 0; e < n; e++) {
            out[e] = Float.float16ToFloat(Float.floatToFloat16(w0 * x0[e]));
        }
        for (int k = 1; k < w.length; k++) {
            float wk = w[k];
            float[] xk = in[k];
            for (int e = 0; e < n; e++) {
                out[e] += Float.float16ToFloat(Float.floatToFloat16(wk * xk[e]));
            }
        }
        for (int e = 0; e < n; e++) {
            out[e] = Float.float16ToFloat(Float.floatToFloat16(out[e]));
        }
        if (normalize) {
            for (int e = 0; e < n; e++) {
                out[e] = Float.float16ToFloat(Float.floatToFloat16(out[e] / divisor));
            }
        }
    }

    /** {@link #weightedSum} of elements [from, to) only: the vector kernels' tail. */
    static void weightedSumRange(DType d, float[] w, float[][] in, int from, int to, boolean normalize,
                                 float divisor, float[] out) {
        int m = w.length;
        for (int e = from; e < to; e++) {
            float acc = Codec.round(d, w[0] * in[0][e]);
            for (int i = 1; i < m; i++) {
                acc += Codec.round(d, w[i] * in[i][e]);
            }
            acc = Codec.round(d, acc);
            out[e] = normalize ? Codec.round(d, acc / divisor) : acc;
        }
    }
}
