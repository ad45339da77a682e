package dev.amalgam.kernel;

import dev.amalgam.io.DType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A deliberately naive scalar reference for {@link Codec}, written from the format definitions
 * rather than bit tricks: decoding by formula, encoding by searching the nearest representable
 * value with ties to the even pattern.
 */
final class CodecReference {

    private CodecReference() {
    }

    /** Decodes one element from little-endian bytes. */
    static float decode(DType dt, ByteBuffer le, int index) {
        ByteBuffer b = le.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int at = index * dt.byteSize();
        return switch (dt) {
            case F64 -> (float) b.getDouble(at);
            case F32 -> b.getFloat(at);
            case F16 -> minifloat(b.getShort(at) & 0xFFFF, 5, 10, true);
            case BF16 -> Float.intBitsToFloat((b.getShort(at) & 0xFFFF) << 16);
            case F8_E4M3 -> minifloat(b.get(at) & 0xFF, 4, 3, false);
            case F8_E5M2 -> minifloat(b.get(at) & 0xFF, 5, 2, true);
            case I64 -> (float) b.getLong(at);
            case I32 -> (float) b.getInt(at);
            case I16 -> b.getShort(at);
            case I8 -> b.get(at);
            case U8 -> b.get(at) & 0xFF;
            case BOOL -> b.get(at) == 0 ? 0f : 1f;
        };
    }

    /**
     * Value of a sign/exponent/mantissa pattern. {@code ieee}: an all-ones exponent means Inf/NaN;
     * otherwise (float8_e4m3fn) only the all-ones pattern is NaN.
     */
    static float minifloat(int bits, int expBits, int manBits, boolean ieee) {
        int total = 1 + expBits + manBits;
        boolean negative = ((bits >>> (total - 1)) & 1) == 1;
        int exp = (bits >>> manBits) & ((1 << expBits) - 1);
        int man = bits & ((1 << manBits) - 1);
        int bias = (1 << (expBits - 1)) - 1;
        int maxExp = (1 << expBits) - 1;
        double v;
        if (ieee && exp == maxExp) {
            v = man == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else if (!ieee && exp == maxExp && man == (1 << manBits) - 1) {
            v = Double.NaN;
        } else if (exp == 0) {
            v = man * Math.pow(2, 1 - bias - manBits);
        } else {
            v = (1 + man / Math.pow(2, manBits)) * Math.pow(2, exp - bias);
        }
        return (float) (negative ? -v : v);
    }

    /** Encodes one element into little-endian bytes. */
    static void encode(DType dt, float x, ByteBuffer le, int index) {
        ByteBuffer b = le.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int at = index * dt.byteSize();
        switch (dt) {
            case F64 -> b.putDouble(at, x);
            case F32 -> b.putFloat(at, x);
            case F16 -> b.putShort(at, (short) nearest(F16, x));
            case BF16 -> b.putShort(at, (short) nearest(BF16, x));
            case F8_E4M3 -> b.put(at, (byte) nearest(E4M3, x));
            case F8_E5M2 -> b.put(at, (byte) nearest(E5M2, x));
            case I64 -> b.putLong(at, (long) truncSat(x, Long.MIN_VALUE, Long.MAX_VALUE));
            case I32 -> b.putInt(at, (int) truncSat(x, Integer.MIN_VALUE, Integer.MAX_VALUE));
            case I16 -> b.putShort(at, (short) truncSat(x, Short.MIN_VALUE, Short.MAX_VALUE));
            case I8 -> b.put(at, (byte) truncSat(x, Byte.MIN_VALUE, Byte.MAX_VALUE));
            case U8 -> b.put(at, (byte) truncSat(x, 0, 255));
            case BOOL -> b.put(at, (byte) (x == 0f ? 0 : 1));
        }
    }

    private static double truncSat(float x, double lo, double hi) {
        if (Float.isNaN(x)) {
            return 0;
        }
        double t = x < 0 ? Math.ceil(x) : Math.floor(x);
        return Math.max(lo, Math.min(hi, t));
    }

    /** A small float format: its positive finite values by pattern, and what overflow and NaN become. */
    record Format(int bits, float[] positives, float nextBeyondMax, int overflow, int nan, boolean nanKeepsSign) {
    }

    static final Format F16 = format(16, p -> minifloat(p, 5, 10, true), 0x7C00, 0x7E00, true);
    static final Format BF16 = format(16, p -> Float.intBitsToFloat(p << 16), 0x7F80, 0x7FC0, false);
    static final Format E4M3 = format(8, p -> minifloat(p, 4, 3, false), 0x7F, 0x7F, true);
    static final Format E5M2 = format(8, p -> minifloat(p, 5, 2, true), 0x7C, 0x7F, true);

    private static Format format(int bits, java.util.function.IntToDoubleFunction value, int overflow, int nan,
            boolean nanKeepsSign) {
        int half = 1 << (bits - 1);
        float[] pos = new float[half];
        int n = 0;
        for (int p = 0; p < half; p++) {
            float v = (float) value.applyAsDouble(p);
            if (Float.isNaN(v) || Float.isInfinite(v)) {
                break;
            }
            pos[n++] = v;
        }
        pos = Arrays.copyOf(pos, n);
        // the value the next pattern would have if the exponent range went on
        float max = pos[n - 1];
        float step = pos[n - 1] - pos[n - 2];
        return new Format(bits, pos, max + step, overflow, nan, nanKeepsSign);
    }

    /** Nearest pattern with ties to even; beyond the largest finite value, the overflow pattern. */
    static int nearest(Format f, float x) {
        int sign = Float.floatToRawIntBits(x) < 0 ? 1 << (f.bits() - 1) : 0;
        if (Float.isNaN(x)) {
            return f.nan() | (f.nanKeepsSign() ? sign : 0);
        }
        double a = Math.abs((double) x);
        float[] pos = f.positives();
        int last = pos.length - 1;
        if (a >= pos[last]) {
            double mid = ((double) pos[last] + f.nextBeyondMax()) / 2;
            boolean maxIsOdd = (last & 1) == 1;
            if (a > mid || (a == mid && maxIsOdd)) {
                return f.overflow() | sign;
            }
            return last | sign;
        }
        int i = Arrays.binarySearch(pos, (float) a);
        if (i >= 0 && pos[i] == a) {
            return i | sign;
        }
        int hi = i >= 0 ? i : -i - 1;
        // (float) a may have rounded; fix the bracket with exact doubles
        while (hi > 0 && pos[hi - 1] > a) {
            hi--;
        }
        while (pos[hi] < a) {
            hi++;
        }
        int lo = hi - 1;
        double dLo = a - pos[lo];
        double dHi = pos[hi] - a;
        int pick = dLo < dHi ? lo : dHi < dLo ? hi : ((lo & 1) == 0 ? lo : hi);
        return pick | sign;
    }
}
