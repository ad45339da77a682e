package dev.amalgam.method;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The pieces of the {@code --rng mergekit} mode: MT19937, torch's sort order, torch's sum order. */
class MergekitRandomnessTest {

    @Test
    void mt19937MatchesTheReferenceSequence() {
        // the reference generator's first outputs for its default seed 5489
        Mt19937 g = new Mt19937(5489);
        assertThat(Integer.toUnsignedLong(g.next())).isEqualTo(3499211612L);
        assertThat(Integer.toUnsignedLong(g.next())).isEqualTo(581869302L);
        assertThat(Integer.toUnsignedLong(g.next())).isEqualTo(3890346734L);
        Mt19937 h = new Mt19937(5489);
        for (int i = 0; i < 9999; i++) {
            h.next();
        }
        assertThat(Integer.toUnsignedLong(h.next())).isEqualTo(4123659995L);
    }

    @Test
    void skipEqualsDrawing() {
        Mt19937 a = new Mt19937(42);
        Mt19937 b = new Mt19937(42);
        for (int i = 0; i < 5000; i++) {
            a.next();
        }
        b.skip(1234);
        b.skip(3766);
        assertThat(b.next()).isEqualTo(a.next());
        assertThat(a.copy().next()).isEqualTo(a.next());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 7, 16, 17, 31, 64, 120, 1023, 5000})
    void introSortSortsAndCarriesIndices(int n) {
        SplittableRandom r = new SplittableRandom(n);
        float[] key = new float[n];
        for (int i = 0; i < n; i++) {
            key[i] = r.nextInt(5) == 0 ? Float.NaN : r.nextInt(8) * 0.25f;
        }
        float[] orig = key.clone();
        int[] idx = new int[n];
        Arrays.setAll(idx, i -> i);
        IntroSort.sort(key, idx, n);
        for (int i = 0; i < n; i++) {
            assertThat(Float.floatToIntBits(key[i])).isEqualTo(Float.floatToIntBits(orig[idx[i]]));
            if (i > 0) {
                assertThat(Float.isNaN(key[i - 1]) && !Float.isNaN(key[i])).isFalse();
                if (!Float.isNaN(key[i])) {
                    assertThat(key[i - 1]).isLessThanOrEqualTo(key[i]);
                }
            }
        }
        assertThat(Arrays.stream(idx).sorted().toArray()).isEqualTo(java.util.stream.IntStream.range(0, n).toArray());
    }

    @Test
    void introSortTieOrderIsTheLibraryOrder() {
        // 20 equal keys: the median-of-three pivot and unguarded partition reorder them the way
        // std::sort does: the first partition swaps around the pivot taken from the middle
        float[] key = new float[20];
        int[] idx = new int[20];
        Arrays.setAll(idx, i -> i);
        IntroSort.sort(key, idx, 20);
        assertThat(idx).isNotEqualTo(java.util.stream.IntStream.range(0, 20).toArray());
        int[] again = new int[20];
        Arrays.setAll(again, i -> i);
        IntroSort.sort(new float[20], again, 20);
        assertThat(again).isEqualTo(idx);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 8, 9, 31, 32, 33, 100, 1000, 7680, 32768, 100003})
    void cascadeSumIsExactOnSmallIntegersAndChunkIndependent(int n) {
        CascadeSum s = new CascadeSum(n);
        float[] v = new float[n];
        long exact = 0;
        for (int i = 0; i < n; i++) {
            v[i] = (i * 7) % 13 - 6;
            exact += Math.abs((long) v[i]);
        }
        s.addAbs(v, n);
        assertThat((double) s.result()).isEqualTo((double) exact);
        SplittableRandom r = new SplittableRandom(n);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        CascadeSum whole = new CascadeSum(n);
        whole.addAbs(x, n);
        CascadeSum chunked = new CascadeSum(n);
        for (int off = 0; off < n; off += 777) {
            int len = Math.min(777, n - off);
            chunked.addAbs(Arrays.copyOfRange(x, off, off + len), len);
        }
        assertThat(chunked.result()).isEqualTo(whole.result());
        double ref = 0;
        for (float f : x) {
            ref += Math.abs(f);
        }
        assertThat((double) whole.result()).isCloseTo(ref, org.assertj.core.data.Offset.offset(ref * 1e-6));
    }
}
