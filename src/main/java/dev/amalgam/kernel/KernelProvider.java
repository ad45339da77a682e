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

    // ----------------------------------------------------------------------- task-vector family

    /** {@code out[e] = R_d(x[e] - b[e])} for e in [0, n): one chunk of a task vector. */
    void subRound(DType d, float[] x, float[] b, float[] out, int n);

    /** {@code v[e] = R_d(v[e]·s)} for e in [0, n), in place. */
    void scaleRound(DType d, float[] v, float s, int n);

    /**
     * Adds {@code |v[e]|}, widened to double, to {@code acc[(offset + e) & 7]} for e ascending: an
     * L1 norm kept as eight interleaved sums, so that its value depends on element indices only,
     * never on chunking or vector width. {@code acc} has eight elements.
     */
    void sumAbs(float[] v, int n, long offset, double[] acc);

    /**
     * One stretch of an ordered magnitude selection. With {@code k(e)} the bits of {@code |v[e]|},
     * element e is selected when {@code k(e) > threshold}, or when {@code k(e) == threshold} and
     * fewer than {@code quota} elements equal to the threshold came before it (in this call and the
     * ones before, which the returned quota carries). With {@code keepSelected} the unselected
     * elements are zeroed ({@code v·0}, so a negative one becomes -0), otherwise the selected ones.
     *
     * @return the quota left for the elements after these
     */
    long maskTop(float[] v, int n, int threshold, long quota, boolean keepSelected);

    /**
     * Sorts the magnitude keys {@code bits(v[e]) & 0x7FFFFFFF} of e in [0, n) against the bracket
     * [lo, hi]: counts those above it and copies those inside, in order, to {@code inside}
     * (capacity n + 16); returns (above << 32 | inside count).
     */
    long bracketKeys(float[] v, int n, int lo, int hi, int[] inside);

    /** How many of {@code v[0..n)} are NaN or infinite. */
    long countNonFinite(float[] v, int n);

    /** {@code v[e] = v[e]·0} where bit e of {@code bits} (bit {@code e & 63} of {@code bits[e >>> 6]}) is clear. */
    void maskBits(float[] v, int n, long[] bits);

    /**
     * Sets bit e of {@code bits} to {@code (words[e] & 0xFFFFFF) < threshold} for e in [0, n) — the
     * bernoulli keep test of a 24-bit uniform against {@code threshold / 2^24} — and clears the
     * bits of the last word past n.
     */
    void keepBits(int[] words, int n, int threshold, long[] bits);

    /** Adds {@code (double) v[e]·v[e]} to {@code acc[(offset + e) & 7]}: a squared norm in eight interleaved sums. */
    void sumSquares(float[] v, int n, long offset, double[] acc);

    /**
     * SLERP's reductions in one pass: adds {@code a[e]²}, {@code b[e]²} and {@code a[e]·b[e]}, in
     * double, to element {@code (offset + e) & 7} of {@code sqA}, {@code sqB} and {@code dot}; the
     * squares exactly as {@link #sumSquares} adds them.
     */
    void slerpSums(float[] a, float[] b, int n, long offset, double[] sqA, double[] sqB, double[] dot);

    /**
     * Magnitude keys of a row: {@code keys[j] = (bits(v[from+j]) & 0x7FFFFFFF) >>> shift} for j in
     * [0, n), which keep the order of |v| (and its ties) for values that have no set bits below
     * the shift; returns the largest key in the upper 32 bits and the smallest non-zero key
     * ({@code 0x7FFFFFFF} when all are zero) in the lower 32.
     */
    long magnitudeKeys(float[] v, int from, int n, int shift, int[] keys);

    /** As {@link #keepBits}, with a threshold per element: bit e = {@code (words[e] & 0xFFFFFF) < thresholds[e]}. */
    void keepBitsEach(int[] words, int[] thresholds, int n, long[] bits);

    /**
     * {@code out[e]} = the upper 32 bits of SplitMix64's output function applied to
     * {@code stream + (first + e + 1)·0x9E3779B97F4A7C15}, for e in [0, n): the keyed random words.
     */
    void keyedWords(long stream, long first, int n, int[] out);

    /**
     * The combination of weighted task vectors {@code wd[0..m)} (weights {@code w}) with the base,
     * per element, every step rounded to d:
     * <pre>
     *   consensus: pos = R(wd_0 + … + wd_m-1) ≥ 0 (the sum in float32);  keep_j = pos ? wd_j &gt; 0 : wd_j &lt; 0
     *              mixed = R(Σ wd_j·keep_j),  div = R(Σ w_j·keep_j), 1 where it is 0
     *   otherwise: mixed = R(Σ wd_j),  div = divisor
     *   if normalize: mixed = R(mixed / div);   if scale: mixed = R(mixed · lambda)
     *   out = R(base + mixed)
     * </pre>
     * Sums run in float32 in model order; {@code keep_j} is 1 or 0 and multiplies. The chunks
     * {@code wd} are scratch: an implementation may overwrite them.
     */
    void taskCombine(DType d, float[][] wd, float[] w, float[] base, int n, boolean consensus, boolean normalize,
                     float divisor, boolean scale, float lambda, float[] out);

    /**
     * Task arithmetic with neither sparsification nor consensus, per element: the task vectors
     * {@code R(R(x_j − base)·w_j)} of the models {@code in[models[j]]}, then {@link #taskCombine}
     * without consensus — what {@link #subRound}, {@link #scaleRound} and {@link #taskCombine} give
     * one after another, bit for bit, where an implementation may skip their intermediate arrays.
     * {@code scratch} holds {@code models.length} arrays of at least n, which it may overwrite.
     */
    void taskSum(DType d, float[][] in, int[] models, float[] base, float[] w, int n, boolean normalize,
                 float divisor, boolean scale, float lambda, float[][] scratch, float[] out);

    // ---- model stock

    /**
     * One stretch of a task vector and its squared norm: {@code out[e] = R_d(x[from+e] - b[from+e])}
     * for e in [0, n), and {@code out[e]²}, in double (exact), added to {@code acc[(offset + e) & 7]}
     * for e ascending — a squared L2 norm kept as eight interleaved sums, so that its value depends
     * on element indices only, never on chunking or vector width. {@code acc} has eight elements.
     */
    void taskVectorSquares(DType d, float[] x, float[] b, int from, int n, long offset, float[] out, double[] acc);

    /**
     * One stretch of rounded products and their sum: {@code out[e] = R_d(a[e]·b[e])} (the float32
     * product rounded to d) for e in [0, n), and {@code out[e]}, widened to double, added to
     * {@code acc[(offset + e) & 7]} for e ascending — {@code Σ R(a·b)} kept as eight interleaved
     * sums like {@link #taskVectorSquares}.
     */
    void sumRoundedProducts(DType d, float[] a, float[] b, int n, long offset, float[] out, double[] acc);

    /**
     * Model Stock's applying pass for e in [from, to), with {@code x_k = in[models[k]]} in recipe
     * order and N = {@code models.length}, every step rounded to d:
     * <pre>
     *   avg    = R(R(…R(R(0 + x_0[e]) + x_1[e])… + x_N-1[e]) / N)
     *   out[e] = R(R(t·avg) + R(keep·base[e]))
     * </pre>
     * {@code models} is not empty, and {@code out} is not one of the inputs.
     */
    void stockBlend(DType d, float[][] in, int[] models, float[] base, float t, float keep, int from, int to,
                    float[] out);
}
