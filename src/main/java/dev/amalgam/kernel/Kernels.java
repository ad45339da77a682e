package dev.amalgam.kernel;

import dev.amalgam.io.DType;

import java.lang.foreign.MemorySegment;

/**
 * The entry point to the hot loops of the kernel stage: float16/bfloat16 codecs and the elementwise
 * passes of LERP/SLERP and linear merges. The implementation is chosen once, when this class is
 * initialised: the Vector API kernels when the {@code jdk.incubator.vector} module is in the boot
 * layer (the launcher adds it) and the CPU has vectors of 128 bits or more, else the scalar
 * reference. Both give the same bits for every input. {@code -Damalgam.kernels=scalar} forces the
 * scalar kernels, to compare the two in a whole merge.
 */
public final class Kernels {

    /** The system property that forces the scalar kernels when set to {@code scalar}. */
    public static final String PROPERTY = "amalgam.kernels";

    private static final KernelProvider VECTOR = loadVector();
    private static final KernelProvider IMPL =
            "scalar".equals(System.getProperty(PROPERTY)) || VECTOR == null ? ScalarKernels.INSTANCE : VECTOR;

    private Kernels() {
    }

    private static KernelProvider loadVector() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return null;
        }
        try {
            // by name, so that no class that names the incubator module is linked without it
            Class<?> c = Class.forName("dev.amalgam.kernel.VectorKernels");
            if (!(boolean) c.getDeclaredMethod("usable").invoke(null)) {
                return null;
            }
            return (KernelProvider) c.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return null;
        }
    }

    /** What runs: {@code scalar}, or {@code vector (Species[...])}. */
    public static String describe() {
        return IMPL.describe();
    }

    /** The implementation in use. */
    static KernelProvider get() {
        return IMPL;
    }

    /** The scalar reference. */
    static KernelProvider scalar() {
        return ScalarKernels.INSTANCE;
    }

    /** The Vector API implementation, or null when the module is absent or the CPU has no vectors. */
    static KernelProvider vector() {
        return VECTOR;
    }

    /** Decodes {@code n} bfloat16 values at byte {@code off} of {@code src} into {@code dst[dstOff..)}. */
    public static void decodeBf16(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        IMPL.decodeBf16(src, off, dst, dstOff, n);
    }

    /** Encodes {@code src[srcOff..srcOff+n)} as bfloat16 (RNE, NaN → 0x7FC0) at byte {@code off} of {@code dst}. */
    public static void encodeBf16(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        IMPL.encodeBf16(src, srcOff, n, dst, off);
    }

    /** Decodes {@code n} float16 values at byte {@code off} of {@code src} into {@code dst[dstOff..)}. */
    public static void decodeF16(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        IMPL.decodeF16(src, off, dst, dstOff, n);
    }

    /** Encodes {@code src[srcOff..srcOff+n)} as float16 (RNE) at byte {@code off} of {@code dst}. */
    public static void encodeF16(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        IMPL.encodeF16(src, srcOff, n, dst, off);
    }

    /** Rounds {@code a[off..off+n)} to bfloat16 and back, in place. */
    public static void roundBf16(float[] a, int off, int n) {
        IMPL.roundBf16(a, off, n);
    }

    /** Rounds {@code a[off..off+n)} to float16 and back, in place. */
    public static void roundF16(float[] a, int off, int n) {
        IMPL.roundF16(a, off, n);
    }

    /** {@code out[e] = R_d(c0·a[e] + c1·b[e])} for e in [0, n): SLERP's and LERP's applying pass. */
    public static void lerp(DType d, float c0, float[] a, float c1, float[] b, float[] out, int n) {
        IMPL.lerp(d, c0, a, c1, b, out, n);
    }

    /**
     * Linear's applying pass: {@code acc = Σ_k R_d(w[k]·in[k][e])} in float32 in operand order, then
     * {@code out[e] = normalize ? R_d(R_d(acc) / divisor) : R_d(acc)}.
     */
    public static void weightedSum(DType d, float[] w, float[][] in, int n, boolean normalize, float divisor,
                                   float[] out) {
        IMPL.weightedSum(d, w, in, n, normalize, divisor, out);
    }

    /** {@code out[e] = R_d(x[e] - b[e])}: a chunk of a task vector. */
    public static void subRound(DType d, float[] x, float[] b, float[] out, int n) {
        IMPL.subRound(d, x, b, out, n);
    }

    /** {@code v[e] = R_d(v[e]·s)}, in place. */
    public static void scaleRound(DType d, float[] v, float s, int n) {
        IMPL.scaleRound(d, v, s, n);
    }

    /** Adds {@code |v[e]|} to {@code acc[(offset + e) & 7]} (eight interleaved double sums). */
    public static void sumAbs(float[] v, int n, long offset, double[] acc) {
        IMPL.sumAbs(v, n, offset, acc);
    }

    /** The eight interleaved sums of {@link #sumAbs} added in a fixed order. */
    public static double total(double[] acc) {
        return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }

    /**
     * One stretch of an ordered magnitude selection (threshold key, quota of ties left); zeroes the
     * unselected elements, or with {@code keepSelected} false the selected ones; returns the quota left.
     */
    public static long maskTop(float[] v, int n, int threshold, long quota, boolean keepSelected) {
        return IMPL.maskTop(v, n, threshold, quota, keepSelected);
    }

    /** Keys above [lo, hi] counted, keys inside copied out: (above << 32 | inside count). */
    public static long bracketKeys(float[] v, int n, int lo, int hi, int[] inside) {
        return IMPL.bracketKeys(v, n, lo, hi, inside);
    }

    /** How many of {@code v[0..n)} are NaN or infinite. */
    public static long countNonFinite(float[] v, int n) {
        return IMPL.countNonFinite(v, n);
    }

    /** {@code v[e] = v[e]·0} where bit e of {@code bits} is clear. */
    public static void maskBits(float[] v, int n, long[] bits) {
        IMPL.maskBits(v, n, bits);
    }

    /** Bit e of {@code bits} = {@code (words[e] & 0xFFFFFF) < threshold}. */
    public static void keepBits(int[] words, int n, int threshold, long[] bits) {
        IMPL.keepBits(words, n, threshold, bits);
    }

    /** Adds {@code v[e]²} (in double) to {@code acc[(offset + e) & 7]}. */
    public static void sumSquares(float[] v, int n, long offset, double[] acc) {
        IMPL.sumSquares(v, n, offset, acc);
    }

    /** SLERP's reductions: ‖a‖², ‖b‖² and a·b in the interleaved double sums, in one pass. */
    public static void slerpSums(float[] a, float[] b, int n, long offset, double[] sqA, double[] sqB, double[] dot) {
        IMPL.slerpSums(a, b, n, offset, sqA, sqB, dot);
    }

    /** Magnitude keys {@code (bits & 0x7FFFFFFF) >>> shift} of {@code v[from..from+n)}; (largest << 32 | smallest non-zero). */
    public static long magnitudeKeys(float[] v, int from, int n, int shift, int[] keys) {
        return IMPL.magnitudeKeys(v, from, n, shift, keys);
    }

    /** Bit e of {@code bits} = {@code (words[e] & 0xFFFFFF) < thresholds[e]}. */
    public static void keepBitsEach(int[] words, int[] thresholds, int n, long[] bits) {
        IMPL.keepBitsEach(words, thresholds, n, bits);
    }

    /** The keyed random words {@code first .. first+n} of a stream (SplitMix64's output function). */
    public static void keyedWords(long stream, long first, int n, int[] out) {
        IMPL.keyedWords(stream, first, n, out);
    }

    /** The task-vector family's combination of weighted task vectors with the base; see {@link KernelProvider}. */
    public static void taskCombine(DType d, float[][] wd, float[] w, float[] base, int n, boolean consensus,
                                   boolean normalize, float divisor, boolean scale, float lambda, float[] out) {
        IMPL.taskCombine(d, wd, w, base, n, consensus, normalize, divisor, scale, lambda, out);
    }

    /** Task arithmetic without sparsification or consensus in one pass ({@link KernelProvider#taskSum}). */
    public static void taskSum(DType d, float[][] in, int[] models, float[] base, float[] w, int n, boolean normalize,
                               float divisor, boolean scale, float lambda, float[][] scratch, float[] out) {
        IMPL.taskSum(d, in, models, base, w, n, normalize, divisor, scale, lambda, scratch, out);
    }

    // ---- model stock

    /**
     * {@code out[e] = R_d(x[from+e] - b[from+e])} for e in [0, n), with {@code out[e]²} added to
     * {@code acc[(offset + e) & 7]} (eight interleaved double sums): a stretch of a task vector and its
     * squared norm.
     */
    public static void taskVectorSquares(DType d, float[] x, float[] b, int from, int n, long offset, float[] out,
                                         double[] acc) {
        IMPL.taskVectorSquares(d, x, b, from, n, offset, out, acc);
    }

    /**
     * {@code out[e] = R_d(a[e]·b[e])} for e in [0, n), with {@code out[e]} added to
     * {@code acc[(offset + e) & 7]} (eight interleaved double sums): a stretch of rounded products and
     * their sum.
     */
    public static void sumRoundedProducts(DType d, float[] a, float[] b, int n, long offset, float[] out,
                                          double[] acc) {
        IMPL.sumRoundedProducts(d, a, b, n, offset, out, acc);
    }

    /**
     * Model Stock's applying pass over [from, to): {@code out = R(R(t·avg) + R(keep·base))}, avg the
     * mean of the {@code in[models[k]]} summed in order; see {@link KernelProvider#stockBlend}.
     */
    public static void stockBlend(DType d, float[][] in, int[] models, float[] base, float t, float keep, int from,
                                  int to, float[] out) {
        IMPL.stockBlend(d, in, models, base, t, keep, from, to, out);
    }
}
