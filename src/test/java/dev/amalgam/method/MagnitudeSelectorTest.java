package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Locale;
import java.util.Random;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The histogram radix selection against a reference that sorts: exactly K kept, ties at the
 * threshold going to the lower index, and no dependence on chunk size.
 */
class MagnitudeSelectorTest {

    private static final int[] SIZES = {1, 3, 7, 15, 17, 31, 1023};
    private static final int[] CHUNKS = {1, 7, 1 << 16};

    /** Data patterns: random, all equal, zeros, negative, few distinct values, signed zeros. */
    private static float[] data(String pattern, int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (pattern) {
                case "random" -> (float) r.nextGaussian();
                case "equal" -> 0.25f;
                case "zeros" -> 0f;
                case "negative" -> -Math.abs((float) r.nextGaussian()) - 1e-3f;
                case "few" -> (r.nextInt(3) - 1) * 0.5f;
                case "signedZeros" -> r.nextBoolean() ? -0f : (r.nextInt(4) == 0 ? 1e-30f : 0f);
                case "f16" -> Float.float16ToFloat(Float.floatToFloat16((float) r.nextGaussian() * 1e-3f));
                default -> throw new IllegalArgumentException(pattern);
            };
        }
        return v;
    }

    /** Reference: the first K indices in the order (|v| descending, index ascending). */
    private static boolean[] reference(float[] v, long k) {
        Integer[] idx = IntStream.range(0, v.length).boxed().toArray(Integer[]::new);
        Arrays.sort(idx, Comparator.<Integer>comparingDouble(i -> -Math.abs(v[i])).thenComparingInt(i -> i));
        boolean[] sel = new boolean[v.length];
        for (int i = 0; i < k && i < v.length; i++) {
            sel[idx[i]] = true;
        }
        return sel;
    }

    /** Runs the selector's two counting passes and one scan over {@code v} in chunks. */
    private static boolean[][] select(float[] v, int chunk, long... ks) {
        MagnitudeSelector s = new MagnitudeSelector(v.length, ks);
        float[] buf = new float[chunk];
        for (int pass = 0; pass < 2; pass++) {
            for (int off = 0; off < v.length; off += chunk) {
                int len = Math.min(chunk, v.length - off);
                System.arraycopy(v, off, buf, 0, len);
                if (pass == 0) {
                    s.countHigh(buf, len);
                } else {
                    s.countLow(buf, len);
                }
            }
            if (pass == 0) {
                s.endHigh();
            } else {
                s.endLow();
            }
        }
        s.rewind();
        boolean[][] out = new boolean[ks.length][v.length];
        for (int e = 0; e < v.length; e++) {
            for (int c = 0; c < ks.length; c++) {
                out[c][e] = s.selected(c, MagnitudeSelector.key(v[e]));
            }
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"random", "equal", "zeros", "negative", "few", "signedZeros", "f16"})
    void selectsExactlyTheReferenceTopKForEverySizeKAndChunk(String pattern) {
        for (int n : SIZES) {
            float[] v = data(pattern, n, 31L * n + pattern.hashCode());
            long[] ks = {0, 1, n / 2, (long) (0.3 * n), n - 1, n};
            for (int chunk : CHUNKS) {
                boolean[][] got = select(v, chunk, ks);
                for (int c = 0; c < ks.length; c++) {
                    String what = String.format(Locale.ROOT, "%s n=%d k=%d chunk=%d", pattern, n, ks[c],
                            chunk);
                    assertThat(got[c]).as(what).isEqualTo(reference(v, ks[c]));
                    assertThat(count(got[c])).as(what).isEqualTo(Math.max(0, ks[c]));
                }
            }
        }
    }

    @Test
    void tiesAtTheThresholdGoToTheLowerIndex() {
        float[] v = {0.5f, -2f, 1f, -1f, 1f, 3f, -1f, 0f};
        // order: 3 (5), -2 (1), then the four |1| at 2, 3, 4, 6; k = 4 keeps 2 and 3 of them
        boolean[] sel = select(v, 3, 4)[0];
        assertThat(sel).containsExactly(false, true, true, true, false, true, false, false);
    }

    @Test
    void bandSelectionIsTheDifferenceOfTwoCutOffs() {
        float[] v = data("few", 1023, 7);
        long top = 100;
        long keep = 400;
        for (int chunk : CHUNKS) {
            boolean[][] got = select(v, chunk, top + keep, top);
            long kept = 0;
            boolean[] lo = reference(v, top + keep);
            boolean[] hi = reference(v, top);
            for (int e = 0; e < v.length; e++) {
                boolean band = got[0][e] && !got[1][e];
                assertThat(band).isEqualTo(lo[e] && !hi[e]);
                kept += band ? 1 : 0;
            }
            assertThat(kept).isEqualTo(keep);
        }
    }

    @Test
    void nanRanksAboveInfinityAndSignedZerosTie() {
        float[] v = {Float.NaN, Float.NEGATIVE_INFINITY, -0f, 0f, 1f};
        assertThat(select(v, 2, 1)[0]).containsExactly(true, false, false, false, false);
        assertThat(select(v, 2, 4)[0]).containsExactly(true, true, true, false, true);
    }

    @Test
    void largeRandomTensorMatchesTheReferenceCount() {
        float[] v = data("f16", 300_007, 99);
        long k = (long) (0.37 * v.length);
        boolean[] a = select(v, 65536, k)[0];
        assertThat(a).isEqualTo(reference(v, k));
        assertThat(select(v, 4099, k)[0]).isEqualTo(a);
    }

    /**
     * The 15-bit selector's protocol as TIES drives it: one counting pass (bracketed after the
     * calibration), a second one in full only when it asks, then the scan; {@code recounted[0]}
     * tells whether it asked.
     */
    private static boolean[] selectExact(DType d, float[] v, int chunk, long k, boolean[] recounted) {
        MagnitudeSelector s = MagnitudeSelector.exact(d, v.length, k);
        float[] buf = new float[chunk];
        for (int pass = 0; pass < 2; pass++) {
            for (int off = 0; off < v.length; off += chunk) {
                int len = Math.min(chunk, v.length - off);
                System.arraycopy(v, off, buf, 0, len);
                s.countHigh(buf, len);
            }
            s.endHigh();
            if (pass == 0) {
                recounted[0] = s.needsRecount();
            }
            if (!s.needsRecount()) {
                break;
            }
        }
        assertThat(s.needsLowPass()).isFalse();
        s.rewind();
        boolean[] out = new boolean[v.length];
        for (int e = 0; e < v.length; e++) {
            out[e] = s.selected(0, MagnitudeSelector.key(v[e]));
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"BF16", "F16"})
    void bracketedCountSelectsTheReferenceAndRecountsWhenTheFirstChunkMisleads(String dtype) {
        DType d = DType.valueOf(dtype);
        Random r = new Random(5);
        int n = 300_007;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = Codec.round(d, (float) (r.nextGaussian() * 2e-3));
        }
        boolean[] recounted = new boolean[1];
        for (double q : new double[] {0.01, 0.1, 0.5, 0.9, 0.99}) {
            long k = (long) (q * n);
            for (int chunk : new int[] {65536, 4099}) {
                assertThat(selectExact(d, v, chunk, k, recounted)).as("q=%s chunk=%d", q, chunk)
                        .isEqualTo(reference(v, k));
                assertThat(recounted[0]).as("a representative first chunk needs no recount").isFalse();
            }
        }
        // the first 65536 elements a hundred times smaller than the rest: their bracket misses
        float[] w = v.clone();
        for (int i = 0; i < MagnitudeSelector.CALIBRATION; i++) {
            w[i] = Codec.round(d, w[i] * 0.01f);
        }
        long k = n / 2;
        assertThat(selectExact(d, w, 65536, k, recounted)).isEqualTo(reference(w, k));
        assertThat(recounted[0]).isTrue();
    }

    private static long count(boolean[] b) {
        long c = 0;
        for (boolean x : b) {
            c += x ? 1 : 0;
        }
        return c;
    }
}
