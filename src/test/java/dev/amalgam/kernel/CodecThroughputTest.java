package dev.amalgam.kernel;

import dev.amalgam.io.DType;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Prints decode/encode throughput for one 4096×4096 tensor (16 M elements) of each half type, best
 * of 15 single-threaded passes. A measurement, not an assertion: run with {@code -Pslow}.
 */
@Tag("slow")
class CodecThroughputTest {

    @Test
    void printThroughputFor16MElements() {
        int n = 16 << 20;
        float[] f = new float[n];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < n; i++) {
            f[i] = (float) r.nextGaussian();
        }
        try (Arena arena = Arena.ofShared()) {
            MemorySegment seg = arena.allocate(4L * n);
            for (DType dt : new DType[] {DType.F16, DType.BF16, DType.F32, DType.F8_E4M3}) {
                for (boolean decode : new boolean[] {true, false}) {
                    long best = Long.MAX_VALUE;
                    for (int rep = 0; rep < 15; rep++) {
                        long t0 = System.nanoTime();
                        if (decode) {
                            Codec.decode(dt, seg, 0, f, 0, n);
                        } else {
                            Codec.encode(dt, f, 0, n, seg, 0);
                        }
                        best = Math.min(best, System.nanoTime() - t0);
                    }
                    System.out.println(String.format(Locale.ROOT, "%-8s %s 16M elements: %6.2f ms, %5.2f Gelem/s",
                            dt, decode ? "decode" : "encode", best / 1e6, (double) n / best));
                }
            }
        }
    }
}
