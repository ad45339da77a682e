package dev.amalgam.kernel;

import dev.amalgam.io.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

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

    // ----------------------------------------------------------------------- task-vector family

    @Override
    public void subRound(DType d, float[] x, float[] b, float[] out, int n) {
        switch (d) {
            case F32, F64 -> {
                for (int e = 0; e < n; e++) {
                    out[e] = x[e] - b[e];
                }
            }
            case F16 -> {
                for (int e = 0; e < n; e++) {
                    out[e] = Float.float16ToFloat(Float.floatToFloat16(x[e] - b[e]));
                }
            }
            default -> subRoundRange(d, x, b, out, 0, n);
        }
    }

    /** {@link #subRound} of elements [from, to) only. */
    static void subRoundRange(DType d, float[] x, float[] b, float[] out, int from, int to) {
        for (int e = from; e < to; e++) {
            out[e] = Codec.round(d, x[e] - b[e]);
        }
    }

    @Override
    public void scaleRound(DType d, float[] v, float s, int n) {
        switch (d) {
            case F32, F64 -> {
                for (int e = 0; e < n; e++) {
                    v[e] = v[e] * s;
                }
            }
            case F16 -> {
                for (int e = 0; e < n; e++) {
                    v[e] = Float.float16ToFloat(Float.floatToFloat16(v[e] * s));
                }
            }
            default -> scaleRoundRange(d, v, s, 0, n);
        }
    }

    /** {@link #scaleRound} of elements [from, to) only. */
    static void scaleRoundRange(DType d, float[] v, float s, int from, int to) {
        for (int e = from; e < to; e++) {
            v[e] = Codec.round(d, v[e] * s);
        }
    }

    @Override
    public void sumAbs(float[] v, int n, long offset, double[] acc) {
        sumAbsRange(v, 0, n, offset, acc);
    }

    /** {@link #sumAbs} of elements [from, to) only. */
    static void sumAbsRange(float[] v, int from, int to, long offset, double[] acc) {
        for (int e = from; e < to; e++) {
            acc[(int) ((offset + e) & 7)] += Math.abs(v[e]);
        }
    }

    @Override
    public long maskTop(float[] v, int n, int threshold, long quota, boolean keepSelected) {
        return maskTopRange(v, 0, n, threshold, quota, keepSelected);
    }

    @Override
    public long bracketKeys(float[] v, int n, int lo, int hi, int[] inside) {
        return bracketKeysRange(v, 0, n, lo, hi, inside, 0, 0);
    }

    /** {@link #bracketKeys} of elements [from, to), after {@code above} and {@code count} so far. */
    static long bracketKeysRange(float[] v, int from, int to, int lo, int hi, int[] inside, long above, int count) {
        long a = above;
        int c = count;
        for (int e = from; e < to; e++) {
            int key = Float.floatToRawIntBits(v[e]) & 0x7FFFFFFF;
            if (key > hi) {
                a++;
            } else if (key >= lo) {
                inside[c++] = key;
            }
        }
        return a << 32 | c;
    }

    /** {@link #maskTop} of elements [from, to) only. */
    static long maskTopRange(float[] v, int from, int to, int threshold, long quota, boolean keepSelected) {
        long q = quota;
        for (int e = from; e < to; e++) {
            int key = Float.floatToRawIntBits(v[e]) & 0x7FFFFFFF;
            boolean selected;
            if (key != threshold) {
                selected = key > threshold;
            } else {
                selected = q > 0;
                if (selected) {
                    q--;
                }
            }
            if (selected != keepSelected) {
                v[e] *= 0f;
            }
        }
        return q;
    }

    @Override
    public long countNonFinite(float[] v, int n) {
        return countNonFiniteRange(v, 0, n);
    }

    /** {@link #countNonFinite} of elements [from, to) only. */
    static long countNonFiniteRange(float[] v, int from, int to) {
        long bad = 0;
        for (int e = from; e < to; e++) {
            // an all-ones exponent (NaN or ±Inf) plus the exponent's lowest bit carries into bit 31
            bad += ((Float.floatToRawIntBits(v[e]) & 0x7F800000) + 0x00800000) >>> 31;
        }
        return bad;
    }

    @Override
    public void maskBits(float[] v, int n, long[] bits) {
        maskBitsRange(v, 0, n, bits);
    }

    /** {@link #maskBits} of elements [from, to) only. */
    static void maskBitsRange(float[] v, int from, int to, long[] bits) {
        for (int e = from; e < to; e++) {
            if ((bits[e >>> 6] >>> (e & 63) & 1) == 0) {
                v[e] *= 0f;
            }
        }
    }

    @Override
    public void keepBits(int[] words, int n, int threshold, long[] bits) {
        Arrays.fill(bits, 0, (n + 63) >>> 6, 0L);
        keepBitsRange(words, 0, n, threshold, bits);
    }

    /** {@link #keepBits} of elements [from, to) only, into bits that are clear. */
    static void keepBitsRange(int[] words, int from, int to, int threshold, long[] bits) {
        for (int e = from; e < to; e++) {
            if ((words[e] & 0xFFFFFF) < threshold) {
                bits[e >>> 6] |= 1L << (e & 63);
            }
        }
    }

    @Override
    public void sumSquares(float[] v, int n, long offset, double[] acc) {
        sumSquaresRange(v, 0, n, offset, acc);
    }

    @Override
    public void slerpSums(float[] a, float[] b, int n, long offset, double[] sqA, double[] sqB, double[] dot) {
        slerpSumsRange(a, b, 0, n, offset, sqA, sqB, dot);
    }

    /** {@link #slerpSums} of elements [from, to) only. */
    static void slerpSumsRange(float[] a, float[] b, int from, int to, long offset, double[] sqA, double[] sqB,
                               double[] dot) {
        for (int e = from; e < to; e++) {
            int k = (int) ((offset + e) & 7);
            double x = a[e];
            double y = b[e];
            sqA[k] += x * x;
            sqB[k] += y * y;
            dot[k] += x * y;
        }
    }

    @Override
    public long magnitudeKeys(float[] v, int from, int n, int shift, int[] keys) {
        return magnitudeKeysRange(v, from, 0, n, shift, keys, 0, 0x7FFFFFFF);
    }

    /** {@link #magnitudeKeys} of keys [j0, n), folding into the running largest and smallest non-zero. */
    static long magnitudeKeysRange(float[] v, int from, int j0, int n, int shift, int[] keys, int hi, int lo) {
        for (int j = j0; j < n; j++) {
            int k = (Float.floatToRawIntBits(v[from + j]) & 0x7FFFFFFF) >>> shift;
            keys[j] = k;
            hi = Math.max(hi, k);
            lo = Math.min(lo, k == 0 ? 0x7FFFFFFF : k);
        }
        return (long) hi << 32 | lo;
    }

    @Override
    public void keepBitsEach(int[] words, int[] thresholds, int n, long[] bits) {
        Arrays.fill(bits, 0, (n + 63) >>> 6, 0L);
        keepBitsEachRange(words, thresholds, 0, n, bits);
    }

    /** {@link #keepBitsEach} of elements [from, to) only, into bits that are clear. */
    static void keepBitsEachRange(int[] words, int[] thresholds, int from, int to, long[] bits) {
        for (int e = from; e < to; e++) {
            if ((words[e] & 0xFFFFFF) < thresholds[e]) {
                bits[e >>> 6] |= 1L << (e & 63);
            }
        }
    }

    @Override
    public void keyedWords(long stream, long first, int n, int[] out) {
        keyedWordsRange(stream, first, 0, n, out);
    }

    /** {@link #keyedWords} of elements [from, to) only. */
    static void keyedWordsRange(long stream, long first, int from, int to, int[] out) {
        for (int e = from; e < to; e++) {
            out[e] = (int) (mix(stream + (first + e + 1) * GOLDEN) >>> 32);
        }
    }

    /** The golden-ratio increment of SplitMix64. */
    static final long GOLDEN = 0x9E3779B97F4A7C15L;

    /** SplitMix64's output function. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public void taskCombine(DType d, float[][] wd, float[] w, float[] base, int n, boolean consensus,
                            boolean normalize, float divisor, boolean scale, float lambda, float[] out) {
        taskCombineRange(d, wd, w, base, 0, n, consensus, normalize, divisor, scale, lambda, out);
    }

    /** {@code out[e] = R_f16(Σ wd_j[e])} for e in [0, upper), operand by operand so that C2 vectorises each loop. */
    static void sumRoundF16(float[][] wd, int upper, float[] out) {
        System.arraycopy(wd[0], 0, out, 0, upper);
        for (int j = 1; j < wd.length; j++) {
            float[] x = wd[j];
            for (int e = 0; e < upper; e++) {
                out[e] += x[e];
            }
        }
        for (int e = 0; e < upper; e++) {
            out[e] = Float.float16ToFloat(Float.floatToFloat16(out[e]));
        }
    }

    /**
     * The end of {@link #taskCombine} in float16, in place on {@code mixed} for e in [0, upper):
     * {@code R(mixed / div)} (div per element, or {@code divisor} where {@code div} is null),
     * {@code R(mixed · lambda)}, {@code R(base + mixed)}, each step a loop C2 vectorises.
     */
    static void finishF16(float[] mixed, float[] div, float divisor, boolean normalize, boolean scale, float lambda,
                          float[] base, int upper) {
        if (normalize && div != null) {
            for (int e = 0; e < upper; e++) {
                mixed[e] = Float.float16ToFloat(Float.floatToFloat16(mixed[e] / div[e]));
            }
        } else if (normalize) {
            for (int e = 0; e < upper; e++) {
                mixed[e] = Float.float16ToFloat(Float.floatToFloat16(mixed[e] / divisor));
            }
        }
        if (scale) {
            for (int e = 0; e < upper; e++) {
                mixed[e] = Float.float16ToFloat(Float.floatToFloat16(mixed[e] * lambda));
            }
        }
        for (int e = 0; e < upper; e++) {
            mixed[e] = Float.float16ToFloat(Float.floatToFloat16(base[e] + mixed[e]));
        }
    }

    /** The three kernels {@link #taskSum} fuses, one after another: its reference. */
    @Override
    public void taskSum(DType d, float[][] in, int[] models, float[] base, float[] w, int n, boolean normalize,
                        float divisor, boolean scale, float lambda, float[][] scratch, float[] out) {
        for (int j = 0; j < models.length; j++) {
            subRound(d, in[models[j]], base, scratch[j], n);
            scaleRound(d, scratch[j], w[j], n);
        }
        taskCombine(d, scratch, w, base, n, false, normalize, divisor, scale, lambda, out);
    }

    /** {@link #taskCombine} of elements [from, to) only. */
    static void taskCombineRange(DType d, float[][] wd, float[] w, float[] base, int from, int to, boolean consensus,
                                 boolean normalize, float divisor, boolean scale, float lambda, float[] out) {
        int m = w.length;
        for (int e = from; e < to; e++) {
            float mixed;
            float div = divisor;
            float s = wd[0][e];
            for (int j = 1; j < m; j++) {
                s += wd[j][e];
            }
            if (consensus) {
                boolean positive = Codec.round(d, s) >= 0f;
                float acc = 0f;
                float accW = 0f;
                for (int j = 0; j < m; j++) {
                    float v = wd[j][e];
                    float keep = (positive ? v > 0f : v < 0f) ? 1f : 0f;
                    acc = j == 0 ? v * keep : acc + v * keep;
                    accW = j == 0 ? w[j] * keep : accW + w[j] * keep;
                }
                mixed = Codec.round(d, acc);
                div = Codec.round(d, accW);
                if (div == 0f) {
                    div = 1f;
                }
            } else {
                mixed = Codec.round(d, s);
            }
            if (normalize) {
                mixed = Codec.round(d, mixed / div);
            }
            if (scale) {
                mixed = Codec.round(d, mixed * lambda);
            }
            out[e] = Codec.round(d, base[e] + mixed);
        }
    }

    // ---- model stock

    @Override
    public void taskVectorSquares(DType d, float[] x, float[] b, int from, int n, long offset, float[] out,
                                  double[] acc) {
        taskVectorSquaresRange(d, x, b, from, 0, n, offset, out, acc);
    }

    /** {@link #taskVectorSquares} of elements e in [lo, hi) only. */
    static void taskVectorSquaresRange(DType d, float[] x, float[] b, int from, int lo, int hi, long offset,
                                       float[] out, double[] acc) {
        switch (d) {
            case F32, F64 -> {
                for (int e = lo; e < hi; e++) {
                    float o = x[from + e] - b[from + e];
                    out[e] = o;
                    acc[(int) ((offset + e) & 7)] += (double) o * o;
                }
            }
            case F16 -> {
                for (int e = lo; e < hi; e++) {
                    float o = Float.float16ToFloat(Float.floatToFloat16(x[from + e] - b[from + e]));
                    out[e] = o;
                    acc[(int) ((offset + e) & 7)] += (double) o * o;
                }
            }
            default -> {
                for (int e = lo; e < hi; e++) {
                    float o = Codec.round(d, x[from + e] - b[from + e]);
                    out[e] = o;
                    acc[(int) ((offset + e) & 7)] += (double) o * o;
                }
            }
        }
    }

    /** Adds {@code v[e]²}, in double, to {@code acc[(offset + e) & 7]} for e in [lo, hi). */
    static void sumSquaresRange(float[] v, int lo, int hi, long offset, double[] acc) {
        for (int e = lo; e < hi; e++) {
            acc[(int) ((offset + e) & 7)] += (double) v[e] * v[e];
        }
    }

    @Override
    public void sumRoundedProducts(DType d, float[] a, float[] b, int n, long offset, float[] out, double[] acc) {
        sumRoundedProductsRange(d, a, b, 0, n, offset, out, acc);
    }

    /** {@link #sumRoundedProducts} of elements [lo, hi) only. */
    static void sumRoundedProductsRange(DType d, float[] a, float[] b, int lo, int hi, long offset, float[] out,
                                        double[] acc) {
        switch (d) {
            case F32, F64 -> {
                for (int e = lo; e < hi; e++) {
                    float p = a[e] * b[e];
                    out[e] = p;
                    acc[(int) ((offset + e) & 7)] += p;
                }
            }
            case F16 -> {
                for (int e = lo; e < hi; e++) {
                    float p = Float.float16ToFloat(Float.floatToFloat16(a[e] * b[e]));
                    out[e] = p;
                    acc[(int) ((offset + e) & 7)] += p;
                }
            }
            default -> {
                for (int e = lo; e < hi; e++) {
                    float p = Codec.round(d, a[e] * b[e]);
                    out[e] = p;
                    acc[(int) ((offset + e) & 7)] += p;
                }
            }
        }
    }

    /** Adds {@code v[e]}, widened to double, to {@code acc[(offset + e) & 7]} for e in [lo, hi). */
    static void sumRange(float[] v, int lo, int hi, long offset, double[] acc) {
        for (int e = lo; e < hi; e++) {
            acc[(int) ((offset + e) & 7)] += v[e];
        }
    }

    @Override
    public void stockBlend(DType d, float[][] in, int[] models, float[] base, float t, float keep, int from, int to,
                           float[] out) {
        float count = models.length;
        for (int e = from; e < to; e++) {
            float acc = 0f;
            for (int k : models) {
                acc = Codec.round(d, acc + in[k][e]);
            }
            float avg = Codec.round(d, acc / count);
            out[e] = Codec.round(d, Codec.round(d, t * avg) + Codec.round(d, keep * base[e]));
        }
    }

    /**
     * {@link #stockBlend} in float16, operand by operand over [from, to) instead of element by
     * element — the same operations on each element in the same order — so that every loop is an
     * F16C round trip that C2 vectorises.
     */
    static void stockBlendF16ByOperand(float[][] in, int[] models, float[] base, float t, float keep, int from,
                                       int to, float[] out) {
        float[] x0 = in[models[0]];
        for (int e = from; e < to; e++) {
            out[e] = Float.float16ToFloat(Float.floatToFloat16(0f + x0[e]));
        }
        for (int k = 1; k < models.length; k++) {
            float[] x = in[models[k]];
            for (int e = from; e < to; e++) {
                out[e] = Float.float16ToFloat(Float.floatToFloat16(out[e] + x[e]));
            }
        }
        float count = models.length;
        for (int e = from; e < to; e++) {
            float avg = Float.float16ToFloat(Float.floatToFloat16(out[e] / count));
            out[e] = Float.float16ToFloat(Float.floatToFloat16(
                    Float.float16ToFloat(Float.floatToFloat16(t * avg))
                            + Float.float16ToFloat(Float.floatToFloat16(keep * base[e]))));
        }
    }
}
