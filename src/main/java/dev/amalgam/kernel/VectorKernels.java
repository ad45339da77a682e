package dev.amalgam.kernel;

import dev.amalgam.io.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

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
}
