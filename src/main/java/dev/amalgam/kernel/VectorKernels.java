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
 * <p>How each kernel stays exact:
 * <ul>
 *   <li>bfloat16: widening a short to an int and shifting left 16 is the decode; the encode adds
 *       {@code 0x7FFF + lsb} and keeps the upper half, with NaN lanes blended to {@code 0x7FC0},
 *       which is the scalar rule without its branch.</li>
 *   <li>float16 rounding in registers: normal magnitudes round at bit 13 of the float32 pattern
 *       (RNE by {@code + 0xFFF + lsb}), results of 65536 or more become infinity, and magnitudes
 *       below 2^-14 are rounded to the subnormal step 2^-24 by the hardware, as
 *       {@code (|x| + 0.5f) - 0.5f}. NaN payloads are whatever the JDK's conversions make of them,
 *       so a vector that holds a NaN is redone by the scalar code.</li>
 *   <li>Arithmetic is lanewise multiply, add and divide in the scalar code's order; never FMA.
 *       The payload (and sign) of a NaN that arithmetic makes is not specified by Java — C2's
 *       scalar loops themselves differ between compilations — so the merge passes agree with the
 *       scalar ones on every bit of every number and on NaN-ness; the conversions agree on every
 *       bit, NaN payloads included.</li>
 * </ul>
 * Nothing here reduces across lanes, so results do not depend on the vector width.
 */
final class VectorKernels implements KernelProvider {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Short> S =
            VectorSpecies.of(short.class, VectorShape.forBitSize(Math.max(64, F.vectorBitSize() / 2)));
    private static final int L = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** The smallest float32 magnitude that is a normal float16, 2^-14. */
    private static final int F16_MIN_NORMAL = 0x38800000;
    /** A rounded magnitude of 2^16 or more overflows float16. */
    private static final int F16_OVERFLOW = 0x47800000;
    /** Magnitudes of 65520 or more round to float16 infinity. */
    private static final int F16_ROUNDS_TO_INF = 0x477FF000;
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

    /** R_bf16 of every lane: exact for every input, NaN included. */
    private static FloatVector roundBf16(FloatVector x) {
        IntVector b = x.reinterpretAsInts();
        IntVector r = b.add(b.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000);
        return r.blend(0x7FC00000, b.and(F32_ABS).compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
    }

    @Override
    public void roundBf16(float[] a, int off, int n) {
        int i = off;
        for (int upper = off + n - n % L; i < upper; i += L) {
            roundBf16(FloatVector.fromArray(F, a, i)).intoArray(a, i);
        }
        ScalarKernels.INSTANCE.roundBf16(a, i, off + n - i);
    }

    // ------------------------------------------------------------------------------------- float16

    @Override
    public void decodeF16(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        if (!viewable(src)) {
            ScalarKernels.INSTANCE.decodeF16(src, off, dst, dstOff, n);
            return;
        }
        int i = 0;
        for (int upper = n - n % L; i < upper; i += L) {
            ShortVector h = ShortVector.fromMemorySegment(S, src, off + 2L * i, LE);
            IntVector b = (IntVector) h.convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
            IntVector em = b.and(0x7FFF);
            if (em.compare(VectorOperators.GT, 0x7C00).anyTrue()) {
                // NaNs: the JDK's conversion decides the payload
                ScalarKernels.INSTANCE.decodeF16(src, off + 2L * i, dst, dstOff + i, L);
                continue;
            }
            IntVector sign = b.and(0x8000).lanewise(VectorOperators.LSHL, 16);
            IntVector normal = em.lanewise(VectorOperators.LSHL, 13).add((127 - 15) << 23);
            normal = normal.blend(F32_INF, em.compare(VectorOperators.EQ, 0x7C00));
            // subnormals and zero: em · 2^-24, exact in float32
            IntVector sub = ((FloatVector) em.convert(VectorOperators.I2F, 0)).mul(0x1p-24f).reinterpretAsInts();
            normal.blend(sub, em.compare(VectorOperators.LT, 0x0400)).or(sign).reinterpretAsFloats()
                    .intoArray(dst, dstOff + i);
        }
        ScalarKernels.INSTANCE.decodeF16(src, off + 2L * i, dst, dstOff + i, n - i);
    }

    @Override
    public void encodeF16(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        if (!viewable(dst)) {
            ScalarKernels.INSTANCE.encodeF16(src, srcOff, n, dst, off);
            return;
        }
        int i = 0;
        for (int upper = n - n % L; i < upper; i += L) {
            FloatVector x = FloatVector.fromArray(F, src, srcOff + i);
            IntVector b = x.reinterpretAsInts();
            IntVector abs = b.and(F32_ABS);
            if (abs.compare(VectorOperators.GT, F32_INF).anyTrue()) {
                ScalarKernels.INSTANCE.encodeF16(src, srcOff + i, L, dst, off + 2L * i);
                continue;
            }
            IntVector sign = b.lanewise(VectorOperators.LSHR, 16).and(0x8000);
            IntVector normal = abs.add(abs.lanewise(VectorOperators.LSHR, 13).and(1)).add(0xFFF - ((127 - 15) << 23))
                    .lanewise(VectorOperators.LSHR, 13);
            normal = normal.blend(0x7C00, abs.compare(VectorOperators.GE, F16_ROUNDS_TO_INF));
            // below 2^-14: the float16 subnormal step is the ulp of 0.5f, so the sum rounds it (RNE)
            IntVector sub = abs.reinterpretAsFloats().add(0.5f).reinterpretAsInts().sub(0x3F000000);
            IntVector h = normal.blend(sub, abs.compare(VectorOperators.LT, F16_MIN_NORMAL)).or(sign);
            ((ShortVector) h.convertShape(VectorOperators.I2S, S, 0)).intoMemorySegment(dst, off + 2L * i, LE);
        }
        ScalarKernels.INSTANCE.encodeF16(src, srcOff + i, n - i, dst, off + 2L * i);
    }

    /**
     * R_f16 of every lane, exact for every input but NaN; NaN lanes are passed through unchanged so
     * that they survive to the result, where the caller sees them and redoes the vector in scalar.
     */
    private static FloatVector roundF16(FloatVector x) {
        IntVector b = x.reinterpretAsInts();
        IntVector abs = b.and(F32_ABS);
        IntVector normal = abs.add(abs.lanewise(VectorOperators.LSHR, 13).and(1)).add(0xFFF).and(0xFFFFE000);
        normal = normal.blend(F32_INF, normal.compare(VectorOperators.GE, F16_OVERFLOW));
        IntVector sub = abs.reinterpretAsFloats().add(0.5f).sub(0.5f).reinterpretAsInts();
        IntVector r = normal.blend(sub, abs.compare(VectorOperators.LT, F16_MIN_NORMAL)).or(b.and(0x80000000));
        return r.blend(b, abs.compare(VectorOperators.GT, F32_INF)).reinterpretAsFloats();
    }

    @Override
    public void roundF16(float[] a, int off, int n) {
        int i = off;
        for (int upper = off + n - n % L; i < upper; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, i);
            if (x.test(VectorOperators.IS_NAN).anyTrue()) {
                ScalarKernels.INSTANCE.roundF16(a, i, L);
            } else {
                roundF16(x).intoArray(a, i);
            }
        }
        ScalarKernels.INSTANCE.roundF16(a, i, off + n - i);
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
                    roundBf16(FloatVector.fromArray(F, a, e).mul(c0).add(FloatVector.fromArray(F, b, e).mul(c1)))
                            .intoArray(out, e);
                }
            }
            case F16 -> {
                for (int e = 0; e < upper; e += L) {
                    FloatVector r = roundF16(FloatVector.fromArray(F, a, e).mul(c0)
                            .add(FloatVector.fromArray(F, b, e).mul(c1)));
                    if (r.test(VectorOperators.IS_NAN).anyTrue()) {
                        ScalarKernels.lerpRange(d, c0, a, c1, b, out, e, e + L);
                    } else {
                        r.intoArray(out, e);
                    }
                }
            }
            default -> upper = 0;
        }
        ScalarKernels.lerpRange(d, c0, a, c1, b, out, upper, n);
    }

    // -------------------------------------------------------------------------------- weighted sum

    @Override
    public void weightedSum(DType d, float[] w, float[][] in, int n, boolean normalize, float divisor, float[] out) {
        int upper = n - n % L;
        switch (d) {
            case F32 -> weightedSumF32(w, in, upper, normalize, divisor, out);
            case BF16 -> weightedSumBf16(w, in, upper, normalize, divisor, out);
            case F16 -> weightedSumF16(w, in, upper, normalize, divisor, out);
            default -> upper = 0;
        }
        ScalarKernels.weightedSumRange(d, w, in, upper, n, normalize, divisor, out);
    }

    private static void weightedSumF32(float[] w, float[][] in, int upper, boolean normalize, float divisor,
                                       float[] out) {
        int m = w.length;
        for (int e = 0; e < upper; e += L) {
            FloatVector acc = FloatVector.fromArray(F, in[0], e).mul(w[0]);
            for (int k = 1; k < m; k++) {
                acc = acc.add(FloatVector.fromArray(F, in[k], e).mul(w[k]));
            }
            if (normalize) {
                acc = acc.div(divisor);
            }
            acc.intoArray(out, e);
        }
    }

    private static void weightedSumBf16(float[] w, float[][] in, int upper, boolean normalize, float divisor,
                                        float[] out) {
        int m = w.length;
        for (int e = 0; e < upper; e += L) {
            FloatVector acc = roundBf16(FloatVector.fromArray(F, in[0], e).mul(w[0]));
            for (int k = 1; k < m; k++) {
                acc = acc.add(roundBf16(FloatVector.fromArray(F, in[k], e).mul(w[k])));
            }
            acc = roundBf16(acc);
            if (normalize) {
                acc = roundBf16(acc.div(divisor));
            }
            acc.intoArray(out, e);
        }
    }

    private static void weightedSumF16(float[] w, float[][] in, int upper, boolean normalize, float divisor,
                                       float[] out) {
        int m = w.length;
        for (int e = 0; e < upper; e += L) {
            FloatVector acc = roundF16(FloatVector.fromArray(F, in[0], e).mul(w[0]));
            for (int k = 1; k < m; k++) {
                acc = acc.add(roundF16(FloatVector.fromArray(F, in[k], e).mul(w[k])));
            }
            acc = roundF16(acc);
            if (normalize) {
                acc = roundF16(acc.div(divisor));
            }
            if (acc.test(VectorOperators.IS_NAN).anyTrue()) {
                // a NaN anywhere in the chain reaches the result: let the scalar code decide its bits
                ScalarKernels.weightedSumRange(DType.F16, w, in, e, e + L, normalize, divisor, out);
            } else {
                acc.intoArray(out, e);
            }
        }
    }
}
