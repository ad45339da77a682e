package dev.amalgam.kernel;

import dev.amalgam.io.DType;

import java.lang.foreign.MemorySegment;

/**
 * One implementation of the hot float32 loops: the half-precision codecs and the elementwise merge
 * passes. Kernel stage. {@link ScalarKernels} is the reference; {@link Kernels} picks one
 * implementation once per JVM, and every implementation must produce the same bits as the reference
 * for every input, NaN payloads included.
 */
interface KernelProvider {

    /** A short description: {@code scalar} or the vector species used. */
    String describe();

    /** {@code dst[dstOff+i] = bf16 bits at src[off + 2i]} as float32, for i in [0, n). */
    void decodeBf16(MemorySegment src, long off, float[] dst, int dstOff, int n);

    /** bfloat16 (RNE, NaN → 0x7FC0) of {@code src[srcOff+i]} to {@code dst[off + 2i]}, little-endian. */
    void encodeBf16(float[] src, int srcOff, int n, MemorySegment dst, long off);

    /** {@code dst[dstOff+i] = Float.float16ToFloat(f16 at src[off + 2i])}. */
    void decodeF16(MemorySegment src, long off, float[] dst, int dstOff, int n);

    /** {@code Float.floatToFloat16(src[srcOff+i])} to {@code dst[off + 2i]}, little-endian. */
    void encodeF16(float[] src, int srcOff, int n, MemorySegment dst, long off);

    /** {@code a[i] = R_bf16(a[i])} for i in [off, off+n). */
    void roundBf16(float[] a, int off, int n);

    /** {@code a[i] = R_f16(a[i])} for i in [off, off+n). */
    void roundF16(float[] a, int off, int n);

    /**
     * The two-operand interpolation of LERP and SLERP's applying pass:
     * {@code out[e] = R_d(c0·a[e] + c1·b[e])} for e in [0, n), products and sum in float32 (no FMA).
     */
    void lerp(DType d, float c0, float[] a, float c1, float[] b, float[] out, int n);

    /**
     * Linear's weighted sum: {@code acc = R_d(w0·x0[e]) + R_d(w1·x1[e]) + …} summed in float32 in
     * operand order, then {@code out[e] = normalize ? R_d(R_d(acc) / divisor) : R_d(acc)}.
     */
    void weightedSum(DType d, float[] w, float[][] in, int n, boolean normalize, float divisor, float[] out);
}
