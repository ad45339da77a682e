package dev.amalgam.kernel;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Locale;

import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The float16 and bfloat16 encoders and rounders, vector against scalar, on all 2^32 float32 bit
 * patterns, NaN payloads included (the vector loops' float16 rounding in float arithmetic: every
 * number, and NaN-ness). Takes about a minute: run with {@code -Pslow}.
 */
@Tag("slow")
class KernelExhaustiveTest {

    private static final int BLOCK = 1 << 16;

    @Test
    void everyFloatEncodesAndRoundsIdentically() {
        KernelProvider s = Kernels.scalar();
        KernelProvider v = Kernels.vector();
        assumeTrue(v != null, "no Vector API kernels in this JVM");
        float[] x = new float[BLOCK];
        float[] rs = new float[BLOCK];
        float[] rv = new float[BLOCK];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment es = arena.allocate(2L * BLOCK);
            MemorySegment ev = arena.allocate(2L * BLOCK);
            for (long start = 0; start < 1L << 32; start += BLOCK) {
                for (int i = 0; i < BLOCK; i++) {
                    x[i] = Float.intBitsToFloat((int) (start + i));
                }
                s.encodeF16(x, 0, BLOCK, es, 0);
                v.encodeF16(x, 0, BLOCK, ev, 0);
                check(es.mismatch(ev) < 0, "encodeF16", start);
                s.encodeBf16(x, 0, BLOCK, es, 0);
                v.encodeBf16(x, 0, BLOCK, ev, 0);
                check(es.mismatch(ev) < 0, "encodeBf16", start);
                System.arraycopy(x, 0, rs, 0, BLOCK);
                System.arraycopy(x, 0, rv, 0, BLOCK);
                s.roundF16(rs, 0, BLOCK);
                v.roundF16(rv, 0, BLOCK);
                check(sameBits(rs, rv), "roundF16", start);
                System.arraycopy(x, 0, rs, 0, BLOCK);
                System.arraycopy(x, 0, rv, 0, BLOCK);
                s.roundBf16(rs, 0, BLOCK);
                v.roundBf16(rv, 0, BLOCK);
                check(sameBits(rs, rv), "roundBf16", start);
                System.arraycopy(x, 0, rs, 0, BLOCK);
                System.arraycopy(x, 0, rv, 0, BLOCK);
                s.roundF16(rs, 0, BLOCK);
                VectorKernels.roundF16Arithmetic(rv, 0, BLOCK);
                check(sameValues(rs, rv), "float16 rounding in float arithmetic", start);
            }
        }
    }

    private static boolean sameBits(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                return false;
            }
        }
        return true;
    }

    /** Same bits, or both NaN (the arithmetic rounding keeps the input NaN's payload). */
    private static boolean sameValues(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i]) && !(Float.isNaN(a[i]) && Float.isNaN(b[i]))) {
                return false;
            }
        }
        return true;
    }

    private static void check(boolean ok, String what, long start) {
        if (!ok) {
            fail(String.format(Locale.ROOT, "%s differs in the block of bit patterns from 0x%08X", what, start));
        }
    }
}
