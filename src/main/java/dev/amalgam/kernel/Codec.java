package dev.amalgam.kernel;

import dev.amalgam.io.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Exact conversions between stored dtypes and the float32 working values of the kernels: the
 * kernel stage's codecs. Decoding reads little-endian, possibly unaligned data from a segment;
 * encoding rounds to nearest, ties to even, and writes it back. The loops are plain counted loops
 * over one dtype each, so C2 unrolls and, where the conversion allows it, vectorises them; the
 * float16 and bfloat16 loops are {@link Kernels}', which use the Vector API when it is present
 * (C2 does not vectorise the bfloat16 loops, whose NaN test is a branch).
 *
 * <p>Semantics, following torch's CPU conversions:
 * <ul>
 *   <li>F16: {@link Float#floatToFloat16} / {@link Float#float16ToFloat} (RNE; overflow to ±Inf;
 *       subnormals, ±0, ±Inf and NaN preserved).</li>
 *   <li>BF16: the upper 16 bits with RNE ({@code bits + 0x7FFF + lsb}); every NaN becomes the
 *       canonical quiet NaN {@code 0x7FC0} (sign dropped), as torch's {@code round_to_nearest_even};
 *       overflow rounds to ±Inf.</li>
 *   <li>F8_E4M3 ({@code float8_e4m3fn}, bias 7, no infinities, NaN = {@code S.1111.111}): RNE;
 *       magnitudes above 464 (the midpoint to the missing 480), ±Inf and NaN become NaN with the
 *       input's sign ({@code 0x7F}/{@code 0xFF}). No saturation: that is torch's {@code .to()}.</li>
 *   <li>F8_E5M2 (bias 15, IEEE-like): RNE; magnitudes from 61440 round to ±Inf; NaN becomes
 *       {@code 0x7F} with the input's sign.</li>
 *   <li>F64: widened exactly on encode, rounded to the nearest float on decode.</li>
 *   <li>Integers: decoded exactly (I64/I32 rounded to the nearest float beyond 2^24). Encoded by
 *       truncation toward zero as torch does; where torch is undefined (NaN, out of range) the
 *       value saturates to the type's range and NaN becomes 0, Java's defined float-to-int
 *       semantics.</li>
 *   <li>BOOL: decoded as 0 or 1 (any non-zero byte is true); encoded as {@code x != 0} (so NaN is
 *       true, as in torch).</li>
 * </ul>
 */
public final class Codec {

    private static final ValueLayout.OfShort SHORT_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT_LE =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG_LE =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble DOUBLE_LE =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;

    /** float8_e4m3fn bit pattern to float. */
    private static final float[] E4M3 = new float[256];
    /** float8_e5m2 bit pattern to float. */
    private static final float[] E5M2 = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            E4M3[b] = e4m3ToFloat(b);
            // e5m2 is the upper byte of an IEEE half
            E5M2[b] = Float.float16ToFloat((short) (b << 8));
        }
    }

    private Codec() {
    }

    private static float e4m3ToFloat(int b) {
        int sign = b >>> 7;
        int exp = (b >>> 3) & 0xF;
        int man = b & 0x7;
        float v;
        if (exp == 0xF && man == 0x7) {
            v = Float.NaN;
        } else if (exp == 0) {
            v = Math.scalb((float) man, -9); // man/8 * 2^-6
        } else {
            v = Math.scalb(1f + man / 8f, exp - 7);
        }
        return sign == 1 ? -v : v;
    }

    // ---------------------------------------------------------------------------------------- decode

    /**
     * Decodes {@code n} elements of type {@code dt} starting at {@code byteOffset} in {@code src} into
     * {@code dst[dstOff .. dstOff+n)}.
     */
    public static void decode(DType dt, MemorySegment src, long byteOffset, float[] dst, int dstOff, int n) {
        switch (dt) {
            case F32 -> MemorySegment.copy(src, FLOAT_LE, byteOffset, dst, dstOff, n);
            case F16 -> Kernels.decodeF16(src, byteOffset, dst, dstOff, n);
            case BF16 -> Kernels.decodeBf16(src, byteOffset, dst, dstOff, n);
            case F64 -> decodeF64(src, byteOffset, dst, dstOff, n);
            case F8_E4M3 -> decodeTable(E4M3, src, byteOffset, dst, dstOff, n);
            case F8_E5M2 -> decodeTable(E5M2, src, byteOffset, dst, dstOff, n);
            case I64 -> decodeI64(src, byteOffset, dst, dstOff, n);
            case I32 -> decodeI32(src, byteOffset, dst, dstOff, n);
            case I16 -> decodeI16(src, byteOffset, dst, dstOff, n);
            case I8 -> decodeI8(src, byteOffset, dst, dstOff, n);
            case U8 -> decodeU8(src, byteOffset, dst, dstOff, n);
            case BOOL -> decodeBool(src, byteOffset, dst, dstOff, n);
        }
    }

    private static void decodeF64(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = (float) src.get(DOUBLE_LE, off + 8L * i);
        }
    }

    private static void decodeTable(float[] table, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = table[src.get(BYTE, off + i) & 0xFF];
        }
    }

    private static void decodeI64(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = (float) src.get(LONG_LE, off + 8L * i);
        }
    }

    private static void decodeI32(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = (float) src.get(INT_LE, off + 4L * i);
        }
    }

    private static void decodeI16(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = src.get(SHORT_LE, off + 2L * i);
        }
    }

    private static void decodeI8(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = src.get(BYTE, off + i);
        }
    }

    private static void decodeU8(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = src.get(BYTE, off + i) & 0xFF;
        }
    }

    private static void decodeBool(MemorySegment src, long off, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = src.get(BYTE, off + i) != 0 ? 1f : 0f;
        }
    }

    // ---------------------------------------------------------------------------------------- encode

    /**
     * Encodes {@code src[srcOff .. srcOff+n)} as {@code dt}, rounding to nearest even, into
     * {@code dst} starting at {@code byteOffset}.
     */
    public static void encode(DType dt, float[] src, int srcOff, int n, MemorySegment dst, long byteOffset) {
        switch (dt) {
            case F32 -> MemorySegment.copy(src, srcOff, dst, FLOAT_LE, byteOffset, n);
            case F16 -> Kernels.encodeF16(src, srcOff, n, dst, byteOffset);
            case BF16 -> Kernels.encodeBf16(src, srcOff, n, dst, byteOffset);
            case F64 -> encodeF64(src, srcOff, n, dst, byteOffset);
            case F8_E4M3 -> encodeE4m3(src, srcOff, n, dst, byteOffset);
            case F8_E5M2 -> encodeE5m2(src, srcOff, n, dst, byteOffset);
            case I64 -> encodeI64(src, srcOff, n, dst, byteOffset);
            case I32 -> encodeI32(src, srcOff, n, dst, byteOffset);
            case I16 -> encodeI16(src, srcOff, n, dst, byteOffset);
            case I8 -> encodeI8(src, srcOff, n, dst, byteOffset);
            case U8 -> encodeU8(src, srcOff, n, dst, byteOffset);
            case BOOL -> encodeBool(src, srcOff, n, dst, byteOffset);
        }
    }

    private static void encodeF64(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        for (int i = 0; i < n; i++) {
            dst.set(DOUBLE_LE, off + 8L * i, src[srcOff + i]);
        }
    }

    private static void encodeE4m3(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        for (int i = 0; i < n; i++) {
            dst.set(BYTE, off + i, floatToE4m3(src[srcOff + i]));
        }
    }

    private static void encodeE5m2(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        for (int i = 0; i < n; i++) {
            dst.set(BYTE, off + i, floatToE5m2(src[srcOff + i]));
        }
    }

    private static void encodeI64(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        for (int i = 0; i < n; i++) {
            dst.set(LONG_LE, off + 8L * i, (long) src[srcOff + i]);
        }
    }

    private static void encodeI32(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        for (int i = 0; i < n; i++) {
            dst.set(INT_LE, off + 4L * i, (int) src[srcOff + i]);
        }
    }

    private static void encodeI16(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        for (int i = 0; i < n; i++) {
            dst.set(SHORT_LE, off + 2L * i, (short) clampInt(src[srcOff + i], Short.MIN_VALUE, Short.MAX_VALUE));
        }
    }

    private static void encodeI8(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        for (int i = 0; i < n; i++) {
            dst.set(BYTE, off + i, (byte) clampInt(src[srcOff + i], Byte.MIN_VALUE, Byte.MAX_VALUE));
        }
    }

    private static void encodeU8(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        for (int i = 0; i < n; i++) {
            dst.set(BYTE, off + i, (byte) clampInt(src[srcOff + i], 0, 255));
        }
    }

    private static void encodeBool(float[] src, int srcOff, int n, MemorySegment dst, long off) {
        for (int i = 0; i < n; i++) {
            dst.set(BYTE, off + i, src[srcOff + i] != 0f ? (byte) 1 : (byte) 0);
        }
    }

    /** Truncates toward zero and saturates to [lo, hi]; NaN gives 0. */
    private static int clampInt(float x, int lo, int hi) {
        return Math.clamp((int) x, lo, hi);
    }

    // -------------------------------------------------------------------------------------- scalars

    /**
     * float32 to bfloat16 bits, round to nearest even; every NaN becomes {@code 0x7FC0}, as torch's
     * {@code round_to_nearest_even}. The NaN test is a well-predicted branch: measured twice as fast
     * as a branch-free select, which C2 does not vectorise either.
     */
    public static short floatToBf16(float x) {
        int b = Float.floatToRawIntBits(x);
        if ((b & 0x7FFFFFFF) > 0x7F800000) {
            return (short) 0x7FC0;
        }
        return (short) ((b + 0x7FFF + ((b >>> 16) & 1)) >>> 16);
    }

    /** bfloat16 bits to float32 (exact). */
    public static float bf16ToFloat(short b) {
        return Float.intBitsToFloat(b << 16);
    }

    /**
     * float32 to float8_e4m3fn bits, as torch's {@code fp8e4m3fn_from_fp32_value}: RNE, NaN for
     * magnitudes that round beyond 448, ±Inf and NaN (sign kept).
     */
    public static byte floatToE4m3(float x) {
        int bits = Float.floatToRawIntBits(x);
        int sign = bits & 0x80000000;
        int abs = bits ^ sign;
        int r;
        if (abs >= 0x43F00000) {              // 480.0f and beyond, Inf, NaN
            r = 0x7F;
        } else if (abs < (121 << 23)) {       // below 2^-6, the smallest normal: subnormal or zero
            // adding 2^14 makes the float's ulp 2^-9, the e4m3 subnormal step: hardware RNE rounds
            float denormMagic = Float.intBitsToFloat(141 << 23);
            r = Float.floatToRawIntBits(Float.intBitsToFloat(abs) + denormMagic) - (141 << 23);
        } else {
            int mantOdd = (abs >>> 20) & 1;
            int v = abs + ((7 - 127) << 23) + 0x7FFFF + mantOdd;
            r = v >>> 20;                    // 464 < |x| < 480 lands on 0x7F: NaN, as torch
        }
        return (byte) (r | (sign >>> 24));
    }

    /**
     * float32 to float8_e5m2 bits, as torch's {@code fp8e5m2_from_fp32_value}: RNE, overflow to ±Inf,
     * NaN to {@code 0x7F} (sign kept).
     */
    public static byte floatToE5m2(float x) {
        int bits = Float.floatToRawIntBits(x);
        int sign = bits & 0x80000000;
        int abs = bits ^ sign;
        int r;
        if (abs >= (143 << 23)) {             // 65536.0f and beyond
            r = abs > 0x7F800000 ? 0x7F : 0x7C;
        } else if (abs < (113 << 23)) {       // below 2^-14: subnormal or zero
            // adding 2^7 makes the float's ulp 2^-16, the e5m2 subnormal step
            float denormMagic = Float.intBitsToFloat(134 << 23);
            r = Float.floatToRawIntBits(Float.intBitsToFloat(abs) + denormMagic) - (134 << 23);
        } else {
            int mantOdd = (abs >>> 21) & 1;
            int v = abs + ((15 - 127) << 23) + 0xFFFFF + mantOdd;
            r = v >>> 21;
        }
        return (byte) (r | (sign >>> 24));
    }

    /** float8_e4m3fn bits to float32 (exact). */
    public static float e4m3ToFloat(byte b) {
        return E4M3[b & 0xFF];
    }

    /** float8_e5m2 bits to float32 (exact). */
    public static float e5m2ToFloat(byte b) {
        return E5M2[b & 0xFF];
    }

    // -------------------------------------------------------------------------------------- rounding

    /**
     * R(x): {@code x} rounded to {@code dt} and converted back to float32, the value a tensor of that
     * dtype would hold. Identity for F32 and F64.
     */
    public static float round(DType dt, float x) {
        return switch (dt) {
            case F32, F64 -> x;
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(x));
            case BF16 -> bf16ToFloat(floatToBf16(x));
            case F8_E4M3 -> E4M3[floatToE4m3(x) & 0xFF];
            case F8_E5M2 -> E5M2[floatToE5m2(x) & 0xFF];
            case I64 -> (float) (long) x;
            case I32 -> (float) (int) x;
            case I16 -> clampInt(x, Short.MIN_VALUE, Short.MAX_VALUE);
            case I8 -> clampInt(x, Byte.MIN_VALUE, Byte.MAX_VALUE);
            case U8 -> clampInt(x, 0, 255);
            case BOOL -> x != 0f ? 1f : 0f;
        };
    }

    /** Applies {@link #round(DType, float)} to {@code a[off .. off+n)} in place. */
    public static void round(DType dt, float[] a, int off, int n) {
        switch (dt) {
            case F32, F64 -> {
            }
            case F16 -> Kernels.roundF16(a, off, n);
            case BF16 -> Kernels.roundBf16(a, off, n);
            default -> {
                for (int i = off; i < off + n; i++) {
                    a[i] = round(dt, a[i]);
                }
            }
        }
    }
}
