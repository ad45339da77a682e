package dev.amalgam.kernel;

import dev.amalgam.io.DType;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The Vector API kernels: the same results as {@link ScalarKernels}, bit for bit, a whole vector
 * of elements at a time. Kernel stage. This is the only class that names {@code jdk.incubator.vector};
 * {@link Kernels} loads it only when that module is in the boot layer.
 *
 * <p>bfloat16 is where vectors pay: widening a short to an int and shifting left 16 is the decode;
 * the encode adds {@code 0x7FFF + lsb} and keeps the upper half, with NaN lanes blended to
 * {@code 0x7FC0} — the scalar rule without its branch, which is what keeps C2 from vectorising the
 * scalar loop. float16 stays with the scalar loops, which C2 vectorises with the F16C conversion
 * instructions, faster than any Vector API sequence available in JDK 25. Arithmetic is lanewise
 * multiply, add and divide in the scalar code's order, never FMA; nothing reduces across lanes, so
 * results do not depend on the vector width. The payload (and sign) of a NaN that arithmetic makes
 * is not specified by Java — C2's scalar loops themselves differ between compilations — so the merge
 * passes agree with the scalar ones on every bit of every number and on NaN-ness; the conversions
 * agree on every bit, NaN payloads included.
 */
final class VectorKernels implements KernelProvider {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Short> S =
            VectorSpecies.of(short.class, VectorShape.forBitSize(Math.max(64, F.vectorBitSize() / 2)));
    private static final int L = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private static final int F32_INF = 0x7F800000;
    private static final int F32_ABS = 0x7FFFFFFF;

    VectorKernels() {
        if (S.length() != L || I.length() != L) {
            throw new IllegalStateException("no short species with " + L + " lanes for " + F);
        }
    }

    /** True when the preferred species is wide enough for these kernels to pay (128 bits or more). */
    static boolean usable() {
        return F.vectorBitSize() >= 128;
    }

    @Override
    public String describe() {
        return "vector (" + F + ")";
    }

    /** Heap segments not backed by {@code byte[]} cannot be viewed by vectors: the scalar code takes them. */
    private static boolean viewable(MemorySegment s) {
        return s.isNative() || s.heapBase().map(b -> b instanceof byte[]).orElse(true);
    }

    // ------------------------------------------------------------------------------------ bfloat16

    @Override
    public void decodeBf16(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        if (!viewable(src)) {
            ScalarKernels.INSTANCE.decodeBf16(src, off, dst, dstOff, n);
            return;
        }
        int i = 0;
        for (int upper = n - n % L; i < upper; i += L) {
            ShortVector h = ShortVector.fromMemorySegment(S, src, off + 2L * i, LE);
            IntVector b = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
            b.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + i);
        }
        ScalarKernels.INSTANCE.decodeBf16(src, off + 2L * i, dst, dstOff + i, n - i);
    }

    @Override
    public void encodeBf16(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        if (!viewable(dst)) {
            ScalarKernels.INSTANCE.encodeBf16(src, srcOff, n, dst, off);
            return;
        }
        int i = 0;
        for (int upper = n - n % L; i < upper; i += L) {
            IntVector b = FloatVector.fromArray(F, src, srcOff + i).reinterpretAsInts();
            IntVector r = b.add(b.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF)
                    .lanewise(VectorOperators.LSHR, 16);
            r = r.blend(0x7FC0, b.and(F32_ABS).compare(VectorOperators.GT, F32_INF));
            ((ShortVector) r.convertShape(VectorOperators.I2S, S, 0)).intoMemorySegment(dst, off + 2L * i, LE);
        }
        ScalarKernels.INSTANCE.encodeBf16(src, srcOff + i, n - i, dst, off + 2L * i);
    }

    /*
     * R_bf16 of a vector x, written out in every loop rather than called: a 58-byte helper was left
     * un-inlined at call sites C2 judged cold, its vectors boxed, and the weighted sum measured 4x
     * slower with 12 bytes allocated per element. In every loop below, with b = x's bits:
     *     r = (b + ((b >>> 16) & 1) + 0x7FFF) & 0xFFFF0000, and 0x7FC00000 where |b| > 0x7F800000.
     */

    @Override
    public void roundBf16(float[] a, int off, int n) {
        int i = off;
        for (int upper = off + n - n % L; i < upper; i += L) {
            IntVector b = FloatVector.fromArray(F, a, i).reinterpretAsInts();
            b.add(b.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, b.and(F32_ABS).compare(VectorOperators.GT, F32_INF))
                    .reinterpretAsFloats().intoArray(a, i);
        }
        ScalarKernels.INSTANCE.roundBf16(a, i, off + n - i);
    }

    // ------------------------------------------------------------------------------------- float16

    /*
     * float16 stays scalar: Float.float16ToFloat and floatToFloat16 are F16C intrinsics that C2
     * vectorises (vcvtph2ps/vcvtps2ph), which no Vector API sequence in JDK 25 matches — measured
     * with JMH at 11 Gelem/s scalar against 4.5 for a bit-twiddling vector decode.
     */

    @Override
    public void decodeF16(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        ScalarKernels.INSTANCE.decodeF16(src, off, dst, dstOff, n);
    }

    @Override
    public void encodeF16(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        ScalarKernels.INSTANCE.encodeF16(src, srcOff, n, dst, off);
    }

    @Override
    public void roundF16(float[] a, int off, int n) {
        ScalarKernels.INSTANCE.roundF16(a, off, n);
    }

    // ---------------------------------------------------------------------------------------- lerp

    @Override
    public void lerp(DType d, float c0, float[] a, float c1, float[] b, float[] out, int n) {
        int upper = n - n % L;
        switch (d) {
            case F32 -> {
                for (int e = 0; e < upper; e += L) {
                    FloatVector.fromArray(F, a, e).mul(c0).add(FloatVector.fromArray(F, b, e).mul(c1))
                            .intoArray(out, e);
                }
            }
            case BF16 -> {
                for (int e = 0; e < upper; e += L) {
                    IntVector x = FloatVector.fromArray(F, a, e).mul(c0).add(FloatVector.fromArray(F, b, e).mul(c1))
                            .reinterpretAsInts();
                    x.add(x.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                            .blend(0x7FC00000, x.and(F32_ABS).compare(VectorOperators.GT, F32_INF))
                            .reinterpretAsFloats().intoArray(out, e);
                }
            }
            case F16 -> {
                // C2 vectorises this loop with the F16C conversions
                for (int e = 0; e < n; e++) {
                    out[e] = Float.float16ToFloat(Float.floatToFloat16(c0 * a[e] + c1 * b[e]));
                }
                upper = n;
            }
            default -> upper = 0;
        }
        ScalarKernels.lerpRange(d, c0, a, c1, b, out, upper, n);
    }

    // -------------------------------------------------------------------------------- weighted sum

    /*
     * Operand by operand over the chunk: out = R(w0·x0), then out += R(wk·xk) for each further
     * operand, then the final rounding and division — per element the scalar order exactly, in
     * short loops without calls.
     */

    @Override
    public void weightedSum(DType d, float[] w, float[][] in, int n, boolean normalize, float divisor, float[] out) {
        int upper = n - n % L;
        switch (d) {
            case F32 -> weightedSumF32(w, in, upper, normalize, divisor, out);
            case BF16 -> weightedSumBf16(w, in, upper, normalize, divisor, out);
            case F16 -> {
                ScalarKernels.weightedSumF16ByOperand(w, in, n, normalize, divisor, out);
                upper = n;
            }
            default -> upper = 0;
        }
        ScalarKernels.weightedSumRange(d, w, in, upper, n, normalize, divisor, out);
    }

    private static void weightedSumF32(float[] w, float[][] in, int upper, boolean normalize, float divisor,
                                       float[] out) {
        float w0 = w[0];
        float[] x0 = in[0];
        for (int e = 0; e < upper; e += L) {
            FloatVector.fromArray(F, x0, e).mul(w0).intoArray(out, e);
        }
        for (int k = 1; k < w.length; k++) {
            float wk = w[k];
            float[] xk = in[k];
            for (int e = 0; e < upper; e += L) {
                FloatVector.fromArray(F, out, e).add(FloatVector.fromArray(F, xk, e).mul(wk)).intoArray(out, e);
            }
        }
        if (normalize) {
            for (int e = 0; e < upper; e += L) {
                FloatVector.fromArray(F, out, e).div(divisor).intoArray(out, e);
            }
        }
    }

    private static void weightedSumBf16(float[] w, float[][] in, int upper, boolean normalize, float divisor,
                                        float[] out) {
        scaleRoundBf16(w[0], in[0], out, upper);
        for (int k = 1; k < w.length; k++) {
            addScaledRoundBf16(w[k], in[k], out, upper);
        }
        if (normalize) {
            roundDivideRoundBf16(out, divisor, upper);
        } else {
            roundAllBf16(out, upper);
        }
    }

    /** {@code out[e] = R(out[e])}. */
    private static void roundAllBf16(float[] out, int upper) {
        for (int e = 0; e < upper; e += L) {
            IntVector b = FloatVector.fromArray(F, out, e).reinterpretAsInts();
            b.add(b.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, b.and(F32_ABS).compare(VectorOperators.GT, F32_INF))
                    .reinterpretAsFloats().intoArray(out, e);
        }
    }

    /** {@code out[e] = R(w·x[e])}. */
    private static void scaleRoundBf16(float w, float[] x, float[] out, int upper) {
        for (int e = 0; e < upper; e += L) {
            IntVector b = FloatVector.fromArray(F, x, e).mul(w).reinterpretAsInts();
            b.add(b.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, b.and(F32_ABS).compare(VectorOperators.GT, F32_INF))
                    .reinterpretAsFloats().intoArray(out, e);
        }
    }

    /** {@code out[e] += R(w·x[e])}. */
    private static void addScaledRoundBf16(float w, float[] x, float[] out, int upper) {
        for (int e = 0; e < upper; e += L) {
            IntVector b = FloatVector.fromArray(F, x, e).mul(w).reinterpretAsInts();
            FloatVector r = b.add(b.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, b.and(F32_ABS).compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
            FloatVector.fromArray(F, out, e).add(r).intoArray(out, e);
        }
    }

    /** {@code out[e] = R(R(out[e]) / divisor)}. */
    private static void roundDivideRoundBf16(float[] out, float divisor, int upper) {
        for (int e = 0; e < upper; e += L) {
            IntVector b = FloatVector.fromArray(F, out, e).reinterpretAsInts();
            IntVector q = b.add(b.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, b.and(F32_ABS).compare(VectorOperators.GT, F32_INF))
                    .reinterpretAsFloats().div(divisor).reinterpretAsInts();
            q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF))
                    .reinterpretAsFloats().intoArray(out, e);
        }
    }

    // ----------------------------------------------------------------------- task-vector family

    /*
     * The loops below write R_d out where it is needed, like the ones above: a helper taking and
     * returning vectors is not reliably inlined by C2 (the profile showed it running the Vector
     * API's non-intrinsic fallback), and each loop is kept small enough for C2 to compile whole.
     *
     * float16 has no vector conversion in JDK 25; simple float16 loops stay scalar, which C2
     * vectorises with the F16C instructions. Where a float16 rounding sits inside a vector loop
     * it is done in float arithmetic (see roundF16): with E the exponent of |x|, at least -14
     * (float16's smallest normal), c = ±2^(E+13) carries x's sign and has as its float32 ulp
     * float16's ulp in x's binade, so (x + c) - c rounds x to float16 in one hardware RNE
     * addition and subtracts exactly; subnormals come out as multiples of 2^-24. x's sign is put
     * back (a tiny negative value rounds to -0), magnitudes from 65520 on become ±Inf, and a NaN
     * stays the input NaN.
     */

    private static final int F16_MIN_EXP = 113 << 23;
    private static final int F16_ULP_SHIFT = 13 << 23;
    private static final int F16_OVERFLOW = 0x47800000;
    private static final int SIGN = 0x80000000;

    /** R_f16 of every lane, bit for bit {@code Float.float16ToFloat(Float.floatToFloat16(x))} but for NaN payloads. */
    static FloatVector roundF16(FloatVector x) {
        IntVector b = x.reinterpretAsInts();
        IntVector sign = b.and(SIGN);
        IntVector abs = b.and(F32_ABS);
        FloatVector c = abs.and(F32_INF).max(F16_MIN_EXP).add(F16_ULP_SHIFT).or(sign).reinterpretAsFloats();
        IntVector r = x.add(c).sub(c).reinterpretAsInts().or(sign);
        r = r.blend(sign.or(F32_INF), r.and(F32_ABS).compare(VectorOperators.GE, F16_OVERFLOW));
        return r.blend(b, abs.compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
    }

    /** {@link #roundF16(FloatVector)} over an array, for the agreement tests. */
    static void roundF16Arithmetic(float[] a, int off, int n) {
        int i = off;
        for (int upper = off + n - n % L; i < upper; i += L) {
            roundF16(FloatVector.fromArray(F, a, i)).intoArray(a, i);
        }
        ScalarKernels.INSTANCE.roundF16(a, i, off + n - i);
    }

    @Override
    public void subRound(DType d, float[] x, float[] b, float[] out, int n) {
        int upper = n - n % L;
        switch (d) {
            case F32 -> {
                for (int e = 0; e < upper; e += L) {
                    FloatVector.fromArray(F, x, e).sub(FloatVector.fromArray(F, b, e)).intoArray(out, e);
                }
            }
            case BF16 -> {
                for (int e = 0; e < upper; e += L) {
                    IntVector q = FloatVector.fromArray(F, x, e).sub(FloatVector.fromArray(F, b, e)).reinterpretAsInts();
                    q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                            .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF))
                            .reinterpretAsFloats().intoArray(out, e);
                }
            }
            default -> {
                // float16 (C2 vectorises the scalar loop) and the rest
                ScalarKernels.INSTANCE.subRound(d, x, b, out, n);
                return;
            }
        }
        ScalarKernels.subRoundRange(d, x, b, out, upper, n);
    }

    @Override
    public void scaleRound(DType d, float[] v, float s, int n) {
        int upper = n - n % L;
        switch (d) {
            case F32 -> {
                for (int e = 0; e < upper; e += L) {
                    FloatVector.fromArray(F, v, e).mul(s).intoArray(v, e);
                }
            }
            case BF16 -> {
                for (int e = 0; e < upper; e += L) {
                    IntVector q = FloatVector.fromArray(F, v, e).mul(s).reinterpretAsInts();
                    q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                            .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF))
                            .reinterpretAsFloats().intoArray(v, e);
                }
            }
            default -> {
                ScalarKernels.INSTANCE.scaleRound(d, v, s, n);
                return;
            }
        }
        ScalarKernels.scaleRoundRange(d, v, s, upper, n);
    }

    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

    /*
     * The eight interleaved sums as double vectors. The vector loop starts at the first element
     * whose sum is acc[0] (the elements before it, and the tail, go to the scalar code) and adds
     * each element, in ascending order, to the same sum as the scalar code: with eight double
     * lanes both halves of a float vector into one accumulator, low half first (elements e and
     * e+8 both belong to sum e & 7, in that order); with four, each half into its own. EIGHT is
     * a constant, so C2 keeps one of the two forms in each loop.
     */

    /** Whether the double species holds half a float vector, with eight or four lanes. */
    private static final boolean INTERLEAVABLE = L == 2 * D.length() && (D.length() == 8 || D.length() == 4);
    private static final boolean EIGHT = D.length() == 8;

    @Override
    public void sumAbs(float[] v, int n, long offset, double[] acc) {
        int head = (int) (-offset & 7);
        if (!INTERLEAVABLE || n - head < L) {
            ScalarKernels.sumAbsRange(v, 0, n, offset, acc);
            return;
        }
        int upper = n - (n - head) % L;
        ScalarKernels.sumAbsRange(v, 0, head, offset, acc);
        DoubleVector s0 = DoubleVector.fromArray(D, acc, 0);
        DoubleVector s1 = EIGHT ? s0 : DoubleVector.fromArray(D, acc, 4);
        for (int e = head; e < upper; e += L) {
            FloatVector x = FloatVector.fromArray(F, v, e).abs();
            DoubleVector lo = (DoubleVector) x.convertShape(VectorOperators.F2D, D, 0);
            DoubleVector hi = (DoubleVector) x.convertShape(VectorOperators.F2D, D, 1);
            if (EIGHT) {
                s0 = s0.add(lo).add(hi);
            } else {
                s0 = s0.add(lo);
                s1 = s1.add(hi);
            }
        }
        s0.intoArray(acc, 0);
        if (!EIGHT) {
            s1.intoArray(acc, 4);
        }
        ScalarKernels.sumAbsRange(v, upper, n, offset, acc);
    }

    @Override
    public long maskTop(float[] v, int n, int threshold, long quota, boolean keepSelected) {
        int upper = n - n % L;
        long q = quota;
        for (int e = 0; e < upper; e += L) {
            FloatVector x = FloatVector.fromArray(F, v, e);
            IntVector k = x.reinterpretAsInts().and(F32_ABS);
            VectorMask<Integer> sel = k.compare(VectorOperators.GT, threshold);
            if (q > 0) {
                VectorMask<Integer> eq = k.compare(VectorOperators.EQ, threshold);
                if (eq.anyTrue()) {
                    int c = eq.trueCount();
                    if (c <= q) {
                        sel = sel.or(eq);
                        q -= c;
                    } else {
                        sel = sel.or(VectorMask.fromLong(I, lowestBits(eq.toLong(), (int) q)));
                        q = 0;
                    }
                }
            }
            VectorMask<Float> drop = (keepSelected ? sel.not() : sel).cast(F);
            x.blend(x.mul(0f), drop).intoArray(v, e);
        }
        return ScalarKernels.maskTopRange(v, upper, n, threshold, q, keepSelected);
    }

    @Override
    public long bracketKeys(float[] v, int n, int lo, int hi, int[] inside) {
        int upper = n - n % L;
        long above = 0;
        int c = 0;
        for (int e = 0; e < upper; e += L) {
            IntVector k = FloatVector.fromArray(F, v, e).reinterpretAsInts().and(F32_ABS);
            above += k.compare(VectorOperators.GT, hi).trueCount();
            VectorMask<Integer> in = k.compare(VectorOperators.GE, lo).and(k.compare(VectorOperators.LE, hi));
            k.compress(in).intoArray(inside, c);
            c += in.trueCount();
        }
        return ScalarKernels.bracketKeysRange(v, upper, n, lo, hi, inside, above, c);
    }

    /** The lowest {@code count} set bits of {@code bits}. */
    private static long lowestBits(long bits, int count) {
        long left = bits;
        long take = 0;
        for (int r = 0; r < count; r++) {
            long low = left & -left;
            take |= low;
            left ^= low;
        }
        return take;
    }

    @Override
    public long countNonFinite(float[] v, int n) {
        int upper = n - n % L;
        long bad = 0;
        for (int e = 0; e < upper; e += L) {
            bad += FloatVector.fromArray(F, v, e).reinterpretAsInts().and(F32_ABS)
                    .compare(VectorOperators.GE, F32_INF).trueCount();
        }
        return bad + ScalarKernels.countNonFiniteRange(v, upper, n);
    }

    @Override
    public void maskBits(float[] v, int n, long[] bits) {
        int upper = n - n % L;
        for (int e = 0; e < upper; e += L) {
            VectorMask<Float> keep = VectorMask.fromLong(F, bits[e >>> 6] >>> (e & 63));
            FloatVector x = FloatVector.fromArray(F, v, e);
            x.blend(x.mul(0f), keep.not()).intoArray(v, e);
        }
        ScalarKernels.maskBitsRange(v, upper, n, bits);
    }

    @Override
    public void keepBits(int[] words, int n, int threshold, long[] bits) {
        Arrays.fill(bits, 0, (n + 63) >>> 6, 0L);
        int upper = n - n % L;
        for (int e = 0; e < upper; e += L) {
            long m = IntVector.fromArray(I, words, e).and(0xFFFFFF).compare(VectorOperators.LT, threshold).toLong();
            bits[e >>> 6] |= m << (e & 63);
        }
        ScalarKernels.keepBitsRange(words, upper, n, threshold, bits);
    }

    @Override
    public void sumSquares(float[] v, int n, long offset, double[] acc) {
        int head = (int) (-offset & 7);
        if (!INTERLEAVABLE || n - head < L) {
            ScalarKernels.sumSquaresRange(v, 0, n, offset, acc);
            return;
        }
        int upper = n - (n - head) % L;
        ScalarKernels.sumSquaresRange(v, 0, head, offset, acc);
        sumSquaresF32(v, head, upper, acc);
        ScalarKernels.sumSquaresRange(v, upper, n, offset, acc);
    }

    /*
     * The three sums are independent chains, so one loop runs them side by side: each sum is a
     * serial chain of double adds (one per eight elements, the interleaving's contract), and
     * three kernels one after another each wait on theirs.
     */
    @Override
    public void slerpSums(float[] a, float[] b, int n, long offset, double[] sqA, double[] sqB, double[] dot) {
        int head = (int) (-offset & 7);
        if (!INTERLEAVABLE || n - head < L) {
            ScalarKernels.slerpSumsRange(a, b, 0, n, offset, sqA, sqB, dot);
            return;
        }
        int upper = n - (n - head) % L;
        ScalarKernels.slerpSumsRange(a, b, 0, head, offset, sqA, sqB, dot);
        DoubleVector a0 = DoubleVector.fromArray(D, sqA, 0);
        DoubleVector a1 = EIGHT ? a0 : DoubleVector.fromArray(D, sqA, 4);
        DoubleVector b0 = DoubleVector.fromArray(D, sqB, 0);
        DoubleVector b1 = EIGHT ? b0 : DoubleVector.fromArray(D, sqB, 4);
        DoubleVector p0 = DoubleVector.fromArray(D, dot, 0);
        DoubleVector p1 = EIGHT ? p0 : DoubleVector.fromArray(D, dot, 4);
        for (int e = head; e < upper; e += L) {
            FloatVector x = FloatVector.fromArray(F, a, e);
            FloatVector y = FloatVector.fromArray(F, b, e);
            DoubleVector xl = (DoubleVector) x.convertShape(VectorOperators.F2D, D, 0);
            DoubleVector xh = (DoubleVector) x.convertShape(VectorOperators.F2D, D, 1);
            DoubleVector yl = (DoubleVector) y.convertShape(VectorOperators.F2D, D, 0);
            DoubleVector yh = (DoubleVector) y.convertShape(VectorOperators.F2D, D, 1);
            if (EIGHT) {
                a0 = a0.add(xl.mul(xl)).add(xh.mul(xh));
                b0 = b0.add(yl.mul(yl)).add(yh.mul(yh));
                p0 = p0.add(xl.mul(yl)).add(xh.mul(yh));
            } else {
                a0 = a0.add(xl.mul(xl));
                a1 = a1.add(xh.mul(xh));
                b0 = b0.add(yl.mul(yl));
                b1 = b1.add(yh.mul(yh));
                p0 = p0.add(xl.mul(yl));
                p1 = p1.add(xh.mul(yh));
            }
        }
        a0.intoArray(sqA, 0);
        b0.intoArray(sqB, 0);
        p0.intoArray(dot, 0);
        if (!EIGHT) {
            a1.intoArray(sqA, 4);
            b1.intoArray(sqB, 4);
            p1.intoArray(dot, 4);
        }
        ScalarKernels.slerpSumsRange(a, b, upper, n, offset, sqA, sqB, dot);
    }

    @Override
    public long magnitudeKeys(float[] v, int from, int n, int shift, int[] keys) {
        int upper = n - n % L;
        IntVector hi = IntVector.zero(I);
        IntVector lo = IntVector.broadcast(I, 0x7FFFFFFF);
        for (int j = 0; j < upper; j += L) {
            IntVector k = FloatVector.fromArray(F, v, from + j).reinterpretAsInts().and(F32_ABS)
                    .lanewise(VectorOperators.LSHR, shift);
            k.intoArray(keys, j);
            hi = hi.max(k);
            lo = lo.min(k.blend(0x7FFFFFFF, k.compare(VectorOperators.EQ, 0)));
        }
        return ScalarKernels.magnitudeKeysRange(v, from, upper, n, shift, keys,
                hi.reduceLanes(VectorOperators.MAX), lo.reduceLanes(VectorOperators.MIN));
    }

    @Override
    public void keepBitsEach(int[] words, int[] thresholds, int n, long[] bits) {
        Arrays.fill(bits, 0, (n + 63) >>> 6, 0L);
        int upper = n - n % L;
        for (int e = 0; e < upper; e += L) {
            long m = IntVector.fromArray(I, words, e).and(0xFFFFFF)
                    .compare(VectorOperators.LT, IntVector.fromArray(I, thresholds, e)).toLong();
            bits[e >>> 6] |= m << (e & 63);
        }
        ScalarKernels.keepBitsEachRange(words, thresholds, upper, n, bits);
    }

    private static final VectorSpecies<Long> W = LongVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> WI =
            VectorSpecies.of(int.class, VectorShape.forBitSize(Math.max(64, W.vectorBitSize() / 2)));

    @Override
    public void keyedWords(long stream, long first, int n, int[] out) {
        int wl = W.length();
        if (WI.length() != wl) {
            ScalarKernels.INSTANCE.keyedWords(stream, first, n, out);
            return;
        }
        int upper = n - n % wl;
        long golden = ScalarKernels.GOLDEN;
        LongVector z = LongVector.zero(W).addIndex(1).mul(golden).add(stream + (first + 1) * golden);
        long step = golden * wl;
        for (int e = 0; e < upper; e += wl) {
            LongVector x = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 30)).mul(0xBF58476D1CE4E5B9L);
            x = x.lanewise(VectorOperators.XOR, x.lanewise(VectorOperators.LSHR, 27)).mul(0x94D049BB133111EBL);
            x = x.lanewise(VectorOperators.XOR, x.lanewise(VectorOperators.LSHR, 31)).lanewise(VectorOperators.LSHR, 32);
            ((IntVector) x.convertShape(VectorOperators.L2I, WI, 0)).intoArray(out, e);
            z = z.add(step);
        }
        ScalarKernels.keyedWordsRange(stream, first, upper, n, out);
    }

    /*
     * taskCombine in two passes over the vector part of the chunk: the mix (mixed into out and,
     * with consensus, the per-element divisor into wd[0], whose values the mix has consumed), then
     * the finish (normalize, lambda, base). The tail is the scalar code's, on untouched inputs.
     */

    @Override
    public void taskCombine(DType d, float[][] wd, float[] w, float[] base, int n, boolean consensus,
                            boolean normalize, float divisor, boolean scale, float lambda, float[] out) {
        int upper = n - n % L;
        float[] div = consensus ? wd[0] : null;
        switch (d) {
            case BF16 -> {
                if (consensus) {
                    consensusMixBf16(wd, w, upper, out, div);
                } else {
                    sumRoundBf16(wd, upper, out);
                }
                finishBf16(out, div, divisor, normalize, scale, lambda, base, upper);
            }
            case F16 -> {
                if (consensus) {
                    consensusMixF16(wd, w, upper, out, div);
                } else {
                    ScalarKernels.sumRoundF16(wd, upper, out);
                }
                ScalarKernels.finishF16(out, div, divisor, normalize, scale, lambda, base, upper);
            }
            case F32 -> {
                if (consensus) {
                    consensusMixF32(wd, w, upper, out, div);
                } else {
                    sumF32(wd, upper, out);
                }
                finishF32(out, div, divisor, normalize, scale, lambda, base, upper);
            }
            default -> upper = 0;
        }
        ScalarKernels.taskCombineRange(d, wd, w, base, upper, n, consensus, normalize, divisor, scale, lambda, out);
    }

    /*
     * taskSum: bfloat16 and float32 in one pass, each vector of the chunk through every step in
     * registers; other dtypes as the three kernels (float16's loops are C2's F16C ones).
     */

    @Override
    public void taskSum(DType d, float[][] in, int[] models, float[] base, float[] w, int n, boolean normalize,
                        float divisor, boolean scale, float lambda, float[][] scratch, float[] out) {
        int m = models.length;
        if (m == 0 || (d != DType.BF16 && d != DType.F32)) {
            for (int j = 0; j < m; j++) {
                subRound(d, in[models[j]], base, scratch[j], n);
                scaleRound(d, scratch[j], w[j], n);
            }
            taskCombine(d, scratch, w, base, n, false, normalize, divisor, scale, lambda, out);
            return;
        }
        int upper = n - n % L;
        if (d == DType.BF16) {
            taskSumBf16(in, models, base, w, upper, normalize, divisor, scale, lambda, out);
        } else {
            taskSumF32(in, models, base, w, upper, normalize, divisor, scale, lambda, out);
        }
        // the tail: the three steps on elements [upper, n)
        for (int j = 0; j < m; j++) {
            ScalarKernels.subRoundRange(d, in[models[j]], base, scratch[j], upper, n);
            ScalarKernels.scaleRoundRange(d, scratch[j], w[j], upper, n);
        }
        ScalarKernels.taskCombineRange(d, scratch, w, base, upper, n, false, normalize, divisor, scale, lambda, out);
    }

    private static void taskSumBf16(float[][] in, int[] models, float[] base, float[] w, int upper, boolean normalize,
                                    float divisor, boolean scale, float lambda, float[] out) {
        int m = models.length;
        for (int e = 0; e < upper; e += L) {
            FloatVector b = FloatVector.fromArray(F, base, e);
            // the first term outside the loop: a vector merged with null would be boxed
            IntVector q = FloatVector.fromArray(F, in[models[0]], e).sub(b).reinterpretAsInts();
            FloatVector s = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
            q = s.mul(w[0]).reinterpretAsInts();
            s = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
            for (int j = 1; j < m; j++) {
                q = FloatVector.fromArray(F, in[models[j]], e).sub(b).reinterpretAsInts();
                FloatVector t = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                        .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
                q = t.mul(w[j]).reinterpretAsInts();
                t = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                        .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
                s = s.add(t);
            }
            q = s.reinterpretAsInts();
            FloatVector x = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
            if (normalize) {
                q = x.div(divisor).reinterpretAsInts();
                x = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                        .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
            }
            if (scale) {
                q = x.mul(lambda).reinterpretAsInts();
                x = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                        .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
            }
            q = b.add(x).reinterpretAsInts();
            q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF))
                    .reinterpretAsFloats().intoArray(out, e);
        }
    }

    private static void taskSumF32(float[][] in, int[] models, float[] base, float[] w, int upper, boolean normalize,
                                   float divisor, boolean scale, float lambda, float[] out) {
        int m = models.length;
        for (int e = 0; e < upper; e += L) {
            FloatVector b = FloatVector.fromArray(F, base, e);
            FloatVector s = FloatVector.fromArray(F, in[models[0]], e).sub(b).mul(w[0]);
            for (int j = 1; j < m; j++) {
                s = s.add(FloatVector.fromArray(F, in[models[j]], e).sub(b).mul(w[j]));
            }
            FloatVector x = s;
            if (normalize) {
                x = x.div(divisor);
            }
            if (scale) {
                x = x.mul(lambda);
            }
            b.add(x).intoArray(out, e);
        }
    }

    /*
     * Consensus, per lane: with s = R(Σ wd_j) and sb = 0 where s ≥ 0 (the majority is positive)
     * else the sign bit, wd_j agrees iff its bits xor sb lie in (0, 0x7F800000] unsigned: same
     * sign, not zero, not NaN — the scalar code's (s ≥ 0 ? v > 0 : v < 0).
     */

    private static void consensusMixBf16(float[][] wd, float[] w, int upper, float[] mixed, float[] div) {
        int m = w.length;
        FloatVector zero = FloatVector.zero(F);
        FloatVector one = FloatVector.broadcast(F, 1f);
        for (int e = 0; e < upper; e += L) {
            FloatVector s = FloatVector.fromArray(F, wd[0], e);
            for (int j = 1; j < m; j++) {
                s = s.add(FloatVector.fromArray(F, wd[j], e));
            }
            // R_bf16(s) ≥ 0 iff s ≥ 0 or s rounds to -0, i.e. |s| ≤ 2^-134 (bits 0x8000): no rounding needed
            IntVector sb = s.reinterpretAsInts();
            VectorMask<Integer> positive = s.compare(VectorOperators.GE, 0f).cast(I)
                    .or(sb.and(F32_ABS).compare(VectorOperators.LE, 0x8000));
            IntVector majority = IntVector.broadcast(I, SIGN).blend(0, positive);
            FloatVector acc = zero;
            FloatVector accW = zero;
            for (int j = 0; j < m; j++) {
                FloatVector v = FloatVector.fromArray(F, wd[j], e);
                VectorMask<Float> agree = v.reinterpretAsInts().lanewise(VectorOperators.XOR, majority).sub(1)
                        .compare(VectorOperators.ULT, F32_INF).cast(F);
                FloatVector k = zero.blend(one, agree);
                acc = j == 0 ? v.mul(k) : acc.add(v.mul(k));
                // +0 where the scalar code has w·0 (-0 for a negative w): the sums differ at most in the
                // sign of a zero, and a zero divisor becomes 1 either way
                accW = accW.add(zero.blend(w[j], agree));
            }
            IntVector a = acc.reinterpretAsInts();
            a.add(a.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, a.and(F32_ABS).compare(VectorOperators.GT, F32_INF))
                    .reinterpretAsFloats().intoArray(mixed, e);
            IntVector q = accW.reinterpretAsInts();
            FloatVector dv = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
            dv.blend(one, dv.compare(VectorOperators.EQ, 0f)).intoArray(div, e);
        }
    }

    private static void consensusMixF16(float[][] wd, float[] w, int upper, float[] mixed, float[] div) {
        int m = w.length;
        FloatVector zero = FloatVector.zero(F);
        FloatVector one = FloatVector.broadcast(F, 1f);
        for (int e = 0; e < upper; e += L) {
            FloatVector s = FloatVector.fromArray(F, wd[0], e);
            for (int j = 1; j < m; j++) {
                s = s.add(FloatVector.fromArray(F, wd[j], e));
            }
            // R_f16(s) ≥ 0 iff s ≥ 0 or s rounds to -0 (a NaN is neither): the sign test needs no rounding
            IntVector sb = s.reinterpretAsInts();
            VectorMask<Integer> positive = s.compare(VectorOperators.GE, 0f).cast(I)
                    .or(sb.and(F32_ABS).compare(VectorOperators.LE, 0x33000000));
            IntVector majority = IntVector.broadcast(I, SIGN).blend(0, positive);
            FloatVector acc = zero;
            FloatVector accW = zero;
            for (int j = 0; j < m; j++) {
                FloatVector v = FloatVector.fromArray(F, wd[j], e);
                VectorMask<Float> agree = v.reinterpretAsInts().lanewise(VectorOperators.XOR, majority).sub(1)
                        .compare(VectorOperators.ULT, F32_INF).cast(F);
                FloatVector k = zero.blend(one, agree);
                acc = j == 0 ? v.mul(k) : acc.add(v.mul(k));
                accW = accW.add(zero.blend(w[j], agree));
            }
            acc.intoArray(mixed, e);
            accW.intoArray(div, e);
        }
        // the two roundings, and div's 0 → 1, in loops C2 vectorises
        for (int e = 0; e < upper; e++) {
            mixed[e] = Float.float16ToFloat(Float.floatToFloat16(mixed[e]));
        }
        for (int e = 0; e < upper; e++) {
            float q = Float.float16ToFloat(Float.floatToFloat16(div[e]));
            div[e] = q == 0f ? 1f : q;
        }
    }

    private static void consensusMixF32(float[][] wd, float[] w, int upper, float[] mixed, float[] div) {
        int m = w.length;
        FloatVector zero = FloatVector.zero(F);
        FloatVector one = FloatVector.broadcast(F, 1f);
        for (int e = 0; e < upper; e += L) {
            FloatVector s = FloatVector.fromArray(F, wd[0], e);
            for (int j = 1; j < m; j++) {
                s = s.add(FloatVector.fromArray(F, wd[j], e));
            }
            IntVector majority = IntVector.broadcast(I, SIGN).blend(0, s.compare(VectorOperators.GE, 0f).cast(I));
            FloatVector acc = zero;
            FloatVector accW = zero;
            for (int j = 0; j < m; j++) {
                FloatVector v = FloatVector.fromArray(F, wd[j], e);
                VectorMask<Float> agree = v.reinterpretAsInts().lanewise(VectorOperators.XOR, majority).sub(1)
                        .compare(VectorOperators.ULT, F32_INF).cast(F);
                FloatVector k = zero.blend(one, agree);
                acc = j == 0 ? v.mul(k) : acc.add(v.mul(k));
                accW = accW.add(zero.blend(w[j], agree));
            }
            acc.intoArray(mixed, e);
            accW.blend(one, accW.compare(VectorOperators.EQ, 0f)).intoArray(div, e);
        }
    }

    /** {@code out = R_bf16(Σ wd_j)}, the sum in float32 in order. */
    private static void sumRoundBf16(float[][] wd, int upper, float[] out) {
        int m = wd.length;
        for (int e = 0; e < upper; e += L) {
            FloatVector s = FloatVector.fromArray(F, wd[0], e);
            for (int j = 1; j < m; j++) {
                s = s.add(FloatVector.fromArray(F, wd[j], e));
            }
            IntVector b = s.reinterpretAsInts();
            b.add(b.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, b.and(F32_ABS).compare(VectorOperators.GT, F32_INF))
                    .reinterpretAsFloats().intoArray(out, e);
        }
    }

    private static void sumF32(float[][] wd, int upper, float[] out) {
        int m = wd.length;
        for (int e = 0; e < upper; e += L) {
            FloatVector s = FloatVector.fromArray(F, wd[0], e);
            for (int j = 1; j < m; j++) {
                s = s.add(FloatVector.fromArray(F, wd[j], e));
            }
            s.intoArray(out, e);
        }
    }

    /** In place on {@code mixed}: {@code R(base + R(R(mixed / div)·λ))}, steps as flagged; div per element or the scalar. */
    private static void finishBf16(float[] mixed, float[] div, float divisor, boolean normalize, boolean scale,
                                   float lambda, float[] base, int upper) {
        FloatVector scalarDiv = FloatVector.broadcast(F, divisor);
        for (int e = 0; e < upper; e += L) {
            FloatVector x = FloatVector.fromArray(F, mixed, e);
            if (normalize) {
                IntVector q = x.div(div == null ? scalarDiv : FloatVector.fromArray(F, div, e)).reinterpretAsInts();
                x = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                        .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
            }
            if (scale) {
                IntVector q = x.mul(lambda).reinterpretAsInts();
                x = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                        .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
            }
            IntVector q = FloatVector.fromArray(F, base, e).add(x).reinterpretAsInts();
            q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, q.and(F32_ABS).compare(VectorOperators.GT, F32_INF))
                    .reinterpretAsFloats().intoArray(mixed, e);
        }
    }

    private static void finishF32(float[] mixed, float[] div, float divisor, boolean normalize, boolean scale,
                                  float lambda, float[] base, int upper) {
        FloatVector scalarDiv = FloatVector.broadcast(F, divisor);
        for (int e = 0; e < upper; e += L) {
            FloatVector x = FloatVector.fromArray(F, mixed, e);
            if (normalize) {
                x = x.div(div == null ? scalarDiv : FloatVector.fromArray(F, div, e));
            }
            if (scale) {
                x = x.mul(lambda);
            }
            FloatVector.fromArray(F, base, e).add(x).intoArray(mixed, e);
        }
    }

    // ---- model stock

    /*
     * The sums keep the interleaved layout above. Rounding follows the task-vector family:
     * bfloat16 written out in each loop, its NaN test as y != y on the float value (one compare,
     * where |b| > 0x7F800000 takes a mask and a compare: the blend measured 11% faster); float16
     * in a scalar loop C2 vectorises with F16C, into the output array, which the sum then reads.
     */

    @Override
    public void taskVectorSquares(DType d, float[] x, float[] b, int from, int n, long offset, float[] out,
                                  double[] acc) {
        int head = (int) (-offset & 7);
        if (!INTERLEAVABLE || n - head < L || (d != DType.F32 && d != DType.BF16 && d != DType.F16)) {
            ScalarKernels.taskVectorSquaresRange(d, x, b, from, 0, n, offset, out, acc);
            return;
        }
        int upper = n - (n - head) % L;
        if (d == DType.F16) {
            // the difference, its rounding in place in a loop C2 vectorises with F16C (C2 leaves a loop
            // that reads x[from + e] and writes out[e] scalar: the two might overlap), then the squares
            int i = 0;
            for (int upperAll = n - n % L; i < upperAll; i += L) {
                FloatVector.fromArray(F, x, from + i).sub(FloatVector.fromArray(F, b, from + i)).intoArray(out, i);
            }
            for (; i < n; i++) {
                out[i] = x[from + i] - b[from + i];
            }
            for (int e = 0; e < n; e++) {
                out[e] = Float.float16ToFloat(Float.floatToFloat16(out[e]));
            }
            ScalarKernels.sumSquaresRange(out, 0, head, offset, acc);
            sumSquaresF32(out, head, upper, acc);
            ScalarKernels.sumSquaresRange(out, upper, n, offset, acc);
            return;
        }
        ScalarKernels.taskVectorSquaresRange(d, x, b, from, 0, head, offset, out, acc);
        DoubleVector s0 = DoubleVector.fromArray(D, acc, 0);
        DoubleVector s1 = EIGHT ? s0 : DoubleVector.fromArray(D, acc, 4);
        if (d == DType.BF16) {
            for (int e = head; e < upper; e += L) {
                FloatVector y = FloatVector.fromArray(F, x, from + e).sub(FloatVector.fromArray(F, b, from + e));
                IntVector q = y.reinterpretAsInts();
                FloatVector o = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                        .blend(0x7FC00000, y.compare(VectorOperators.NE, y).cast(I)).reinterpretAsFloats();
                o.intoArray(out, e);
                DoubleVector lo = (DoubleVector) o.convertShape(VectorOperators.F2D, D, 0);
                DoubleVector hi = (DoubleVector) o.convertShape(VectorOperators.F2D, D, 1);
                if (EIGHT) {
                    s0 = s0.add(lo.mul(lo)).add(hi.mul(hi));
                } else {
                    s0 = s0.add(lo.mul(lo));
                    s1 = s1.add(hi.mul(hi));
                }
            }
        } else {
            for (int e = head; e < upper; e += L) {
                FloatVector o = FloatVector.fromArray(F, x, from + e).sub(FloatVector.fromArray(F, b, from + e));
                o.intoArray(out, e);
                DoubleVector lo = (DoubleVector) o.convertShape(VectorOperators.F2D, D, 0);
                DoubleVector hi = (DoubleVector) o.convertShape(VectorOperators.F2D, D, 1);
                if (EIGHT) {
                    s0 = s0.add(lo.mul(lo)).add(hi.mul(hi));
                } else {
                    s0 = s0.add(lo.mul(lo));
                    s1 = s1.add(hi.mul(hi));
                }
            }
        }
        s0.intoArray(acc, 0);
        if (!EIGHT) {
            s1.intoArray(acc, 4);
        }
        ScalarKernels.taskVectorSquaresRange(d, x, b, from, upper, n, offset, out, acc);
    }

    /** Adds {@code v[e]²} in double to the interleaved sums for e in [lo, hi), lo the index of a sum-0 element. */
    private static void sumSquaresF32(float[] v, int lo, int hi, double[] acc) {
        DoubleVector s0 = DoubleVector.fromArray(D, acc, 0);
        DoubleVector s1 = EIGHT ? s0 : DoubleVector.fromArray(D, acc, 4);
        for (int e = lo; e < hi; e += L) {
            FloatVector o = FloatVector.fromArray(F, v, e);
            DoubleVector dl = (DoubleVector) o.convertShape(VectorOperators.F2D, D, 0);
            DoubleVector dh = (DoubleVector) o.convertShape(VectorOperators.F2D, D, 1);
            if (EIGHT) {
                s0 = s0.add(dl.mul(dl)).add(dh.mul(dh));
            } else {
                s0 = s0.add(dl.mul(dl));
                s1 = s1.add(dh.mul(dh));
            }
        }
        s0.intoArray(acc, 0);
        if (!EIGHT) {
            s1.intoArray(acc, 4);
        }
    }

    @Override
    public void sumRoundedProducts(DType d, float[] a, float[] b, int n, long offset, float[] out, double[] acc) {
        int head = (int) (-offset & 7);
        if (!INTERLEAVABLE || n - head < L || (d != DType.F32 && d != DType.BF16 && d != DType.F16)) {
            ScalarKernels.sumRoundedProductsRange(d, a, b, 0, n, offset, out, acc);
            return;
        }
        int upper = n - (n - head) % L;
        if (d == DType.F16) {
            // the products in a loop C2 vectorises with F16C, then their sum
            for (int e = 0; e < n; e++) {
                out[e] = Float.float16ToFloat(Float.floatToFloat16(a[e] * b[e]));
            }
            ScalarKernels.sumRange(out, 0, head, offset, acc);
            sumF32(out, head, upper, acc);
            ScalarKernels.sumRange(out, upper, n, offset, acc);
            return;
        }
        ScalarKernels.sumRoundedProductsRange(d, a, b, 0, head, offset, out, acc);
        DoubleVector s0 = DoubleVector.fromArray(D, acc, 0);
        DoubleVector s1 = EIGHT ? s0 : DoubleVector.fromArray(D, acc, 4);
        if (d == DType.BF16) {
            for (int e = head; e < upper; e += L) {
                FloatVector y = FloatVector.fromArray(F, a, e).mul(FloatVector.fromArray(F, b, e));
                IntVector q = y.reinterpretAsInts();
                FloatVector p = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                        .blend(0x7FC00000, y.compare(VectorOperators.NE, y).cast(I)).reinterpretAsFloats();
                p.intoArray(out, e);
                DoubleVector lo = (DoubleVector) p.convertShape(VectorOperators.F2D, D, 0);
                DoubleVector hi = (DoubleVector) p.convertShape(VectorOperators.F2D, D, 1);
                if (EIGHT) {
                    s0 = s0.add(lo).add(hi);
                } else {
                    s0 = s0.add(lo);
                    s1 = s1.add(hi);
                }
            }
        } else {
            for (int e = head; e < upper; e += L) {
                FloatVector p = FloatVector.fromArray(F, a, e).mul(FloatVector.fromArray(F, b, e));
                p.intoArray(out, e);
                DoubleVector lo = (DoubleVector) p.convertShape(VectorOperators.F2D, D, 0);
                DoubleVector hi = (DoubleVector) p.convertShape(VectorOperators.F2D, D, 1);
                if (EIGHT) {
                    s0 = s0.add(lo).add(hi);
                } else {
                    s0 = s0.add(lo);
                    s1 = s1.add(hi);
                }
            }
        }
        s0.intoArray(acc, 0);
        if (!EIGHT) {
            s1.intoArray(acc, 4);
        }
        ScalarKernels.sumRoundedProductsRange(d, a, b, upper, n, offset, out, acc);
    }

    /** Adds {@code v[e]}, in double, to the interleaved sums for e in [lo, hi), lo the index of a sum-0 element. */
    private static void sumF32(float[] v, int lo, int hi, double[] acc) {
        DoubleVector s0 = DoubleVector.fromArray(D, acc, 0);
        DoubleVector s1 = EIGHT ? s0 : DoubleVector.fromArray(D, acc, 4);
        for (int e = lo; e < hi; e += L) {
            FloatVector p = FloatVector.fromArray(F, v, e);
            DoubleVector dl = (DoubleVector) p.convertShape(VectorOperators.F2D, D, 0);
            DoubleVector dh = (DoubleVector) p.convertShape(VectorOperators.F2D, D, 1);
            if (EIGHT) {
                s0 = s0.add(dl).add(dh);
            } else {
                s0 = s0.add(dl);
                s1 = s1.add(dh);
            }
        }
        s0.intoArray(acc, 0);
        if (!EIGHT) {
            s1.intoArray(acc, 4);
        }
    }

    @Override
    public void stockBlend(DType d, float[][] in, int[] models, float[] base, float t, float keep, int from, int to,
                           float[] out) {
        int upper = to - (to - from) % L;
        switch (d) {
            case F32 -> stockBlendF32(in, models, base, t, keep, from, upper, out);
            case BF16 -> stockBlendBf16(in, models, base, t, keep, from, upper, out);
            case F16 -> {
                ScalarKernels.stockBlendF16ByOperand(in, models, base, t, keep, from, to, out);
                return;
            }
            default -> upper = from;
        }
        ScalarKernels.INSTANCE.stockBlend(d, in, models, base, t, keep, upper, to, out);
    }

    /*
     * The blend operand by operand over the range, like the weighted sum: out = R(0 + x_0), then
     * out = R(out + x_k) for each further model, then the division and the interpolation with the
     * base — per element the scalar order exactly, in short loops without calls.
     */

    private static void stockBlendF32(float[][] in, int[] models, float[] base, float t, float keep, int from,
                                      int upper, float[] out) {
        float[] x0 = in[models[0]];
        for (int e = from; e < upper; e += L) {
            FloatVector.zero(F).add(FloatVector.fromArray(F, x0, e)).intoArray(out, e);
        }
        for (int k = 1; k < models.length; k++) {
            float[] x = in[models[k]];
            for (int e = from; e < upper; e += L) {
                FloatVector.fromArray(F, out, e).add(FloatVector.fromArray(F, x, e)).intoArray(out, e);
            }
        }
        float count = models.length;
        for (int e = from; e < upper; e += L) {
            FloatVector.fromArray(F, out, e).div(count).mul(t).add(FloatVector.fromArray(F, base, e).mul(keep))
                    .intoArray(out, e);
        }
    }

    private static void stockBlendBf16(float[][] in, int[] models, float[] base, float t, float keep, int from,
                                       int upper, float[] out) {
        float[] x0 = in[models[0]];
        for (int e = from; e < upper; e += L) {
            FloatVector y = FloatVector.zero(F).add(FloatVector.fromArray(F, x0, e));
            IntVector q = y.reinterpretAsInts();
            q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, y.compare(VectorOperators.NE, y).cast(I))
                    .reinterpretAsFloats().intoArray(out, e);
        }
        for (int k = 1; k < models.length; k++) {
            float[] x = in[models[k]];
            for (int e = from; e < upper; e += L) {
                FloatVector y = FloatVector.fromArray(F, out, e).add(FloatVector.fromArray(F, x, e));
                IntVector q = y.reinterpretAsInts();
                q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                        .blend(0x7FC00000, y.compare(VectorOperators.NE, y).cast(I))
                        .reinterpretAsFloats().intoArray(out, e);
            }
        }
        float count = models.length;
        for (int e = from; e < upper; e += L) {
            FloatVector y = FloatVector.fromArray(F, out, e).div(count);
            IntVector q = y.reinterpretAsInts();
            FloatVector avg = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, y.compare(VectorOperators.NE, y).cast(I)).reinterpretAsFloats();
            y = avg.mul(t);
            q = y.reinterpretAsInts();
            FloatVector mixed = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, y.compare(VectorOperators.NE, y).cast(I)).reinterpretAsFloats();
            y = FloatVector.fromArray(F, base, e).mul(keep);
            q = y.reinterpretAsInts();
            FloatVector kept = q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, y.compare(VectorOperators.NE, y).cast(I)).reinterpretAsFloats();
            y = mixed.add(kept);
            q = y.reinterpretAsInts();
            q.add(q.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000)
                    .blend(0x7FC00000, y.compare(VectorOperators.NE, y).cast(I))
                    .reinterpretAsFloats().intoArray(out, e);
        }
    }
}
