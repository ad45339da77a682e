package dev.amalgam.method;

import java.util.Arrays;

/**
 * Exact order statistics of signed float values without sorting: the method stage's helper for
 * quantiles (arcee_fusion's median and quartiles). Ranks are 0-based in ascending order, as
 * indices into the sorted values; only values are returned, so ties need no rule.
 *
 * <p>Keys map the float bits to a signed int in value order ({@code -0 = +0}, every NaN above
 * +Inf, as torch sorts). Two counting passes over the same values find each rank's key: a
 * histogram of the high 16 key bits (shared), then for each rank a histogram of the low 16 bits
 * within its bucket. Memory is O(2^16 · (1 + ranks)) whatever the number of values, and the
 * result does not depend on the order or chunking in which values are fed.
 */
final class OrderStatistics {

    private static final int BUCKETS = 1 << 16;

    private final long[] rank;
    private final long[] high = new long[BUCKETS];
    private final int[] bucket;
    private final long[][] low;
    private final int[] key;

    /** @param ranks the 0-based ascending ranks to find */
    OrderStatistics(long... ranks) {
        this.rank = ranks.clone();
        this.bucket = new int[ranks.length];
        this.low = new long[ranks.length][];
        this.key = new int[ranks.length];
    }

    /** A signed int whose order is the value order of {@code x}. */
    static int key(float x) {
        if (x != x) {
            return Integer.MAX_VALUE;
        }
        int bits = Float.floatToRawIntBits(x + 0f);
        return bits >= 0 ? bits : bits ^ 0x7FFFFFFF;
    }

    private static int bucketOf(int key) {
        return (key >> 16) + (BUCKETS >> 1);
    }

    /** Pass 1: counts one value. */
    void countHigh(float x) {
        high[bucketOf(key(x))]++;
    }

    /** Ends pass 1. */
    void endHigh() {
        for (int i = 0; i < rank.length; i++) {
            long below = 0;
            bucket[i] = -1;
            for (int b = 0; b < BUCKETS; b++) {
                if (below + high[b] > rank[i]) {
                    bucket[i] = b;
                    rank[i] -= below;
                    low[i] = new long[BUCKETS];
                    break;
                }
                below += high[b];
            }
            if (bucket[i] < 0) {
                throw new IllegalStateException("rank " + rank[i] + " beyond the " + below + " values counted");
            }
        }
    }

    /** Pass 2: counts one value again. */
    void countLow(float x) {
        int k = key(x);
        int b = bucketOf(k);
        for (int i = 0; i < rank.length; i++) {
            if (bucket[i] == b) {
                low[i][k & 0xFFFF]++;
            }
        }
    }

    /** Ends pass 2: fixes every rank's value. */
    void endLow() {
        for (int i = 0; i < rank.length; i++) {
            long below = 0;
            for (int lo = 0; lo < BUCKETS; lo++) {
                if (below + low[i][lo] > rank[i]) {
                    key[i] = (bucket[i] - (BUCKETS >> 1)) << 16 | lo;
                    break;
                }
                below += low[i][lo];
            }
            low[i] = null;
        }
        Arrays.fill(high, 0);
    }

    /** The value of rank {@code i} (a NaN stands for every NaN). */
    float value(int i) {
        int k = key[i];
        return Float.intBitsToFloat(k >= 0 ? k : k ^ 0x7FFFFFFF);
    }
}
