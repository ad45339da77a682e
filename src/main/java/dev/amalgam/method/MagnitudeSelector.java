package dev.amalgam.method;

import dev.amalgam.io.DType;

import java.util.Arrays;

/**
 * Streaming top-K selection by magnitude without sorting: the method stage's helper for TIES
 * trimming and breadcrumbs' two order statistics. Each cut-off {@code K} selects the K elements
 * of largest {@code |x|}; several cut-offs over the same data share one pass.
 *
 * <p>The order is total: larger {@code |x|} first and, among equal magnitudes, the lower flat
 * index first. Keys are the float32 bit patterns of {@code |x|} (sign cleared), whose integer
 * order is the order of the magnitudes (NaN above +Inf, {@code -0 = +0}). Two counting passes
 * find each cut-off's threshold exactly:
 * <ol>
 *   <li>{@link #countHigh}: a histogram of the top 15 key bits (32768 buckets, shared) locates
 *       the bucket holding the K-th largest key;</li>
 *   <li>{@link #countLow}: a histogram of the low 16 bits of the keys in that bucket (65536 per
 *       cut-off) yields the threshold key {@code t} and {@code c = count(key > t)}.</li>
 * </ol>
 * An ordered scan ({@link #rewind}, then {@link #selected} once per element in index order)
 * keeps every key above {@code t} and the first {@code K - c} keys equal to {@code t}. Memory is
 * O(2^15 + 2^16 · cut-offs) ints whatever the tensor size, and the result does not depend on how
 * the elements are chunked.
 *
 * <p>Values that are all representable in bfloat16 or float16 ({@link #exact}) have at most 15
 * magnitude bits: the bfloat16 pattern, or the float16 one, orders them as their float32 keys do,
 * so the first histogram, over those 15 bits, already gives every threshold exactly and the
 * second pass is skipped ({@link #needsLowPass()}).
 */
final class MagnitudeSelector {

    private static final int HIGH_BUCKETS = 1 << 15;
    private static final int LOW_BUCKETS = 1 << 16;

    /** BF16 or F16 when the keys are that dtype's 15 magnitude bits, else null (float32 keys). */
    private final DType keys16;
    private final long numel;
    private final long[] k;
    private final long[] high = new long[HIGH_BUCKETS];
    private final int[] bucket;
    private final long[] aboveBucket;
    private final long[][] low;
    private final int[] threshold;
    private final long[] quota;
    private final long[] seen;

    /**
     * @param numel  number of elements the passes will see
     * @param cutoffs for each cut-off, how many elements it selects (clamped to [0, numel])
     */
    MagnitudeSelector(long numel, long... cutoffs) {
        this(null, numel, cutoffs);
    }

    /**
     * A selector over values all representable in {@code d}: for BF16 and F16 one counting pass
     * finds the thresholds; any other dtype gets the two float32 passes.
     */
    static MagnitudeSelector exact(DType d, long numel, long... cutoffs) {
        return new MagnitudeSelector(d == DType.BF16 || d == DType.F16 ? d : null, numel, cutoffs);
    }

    private MagnitudeSelector(DType keys16, long numel, long... cutoffs) {
        this.keys16 = keys16;
        this.numel = numel;
        int c = cutoffs.length;
        this.k = new long[c];
        for (int i = 0; i < c; i++) {
            k[i] = Math.clamp(cutoffs[i], 0, numel);
        }
        this.bucket = new int[c];
        this.aboveBucket = new long[c];
        this.low = new long[c][];
        this.threshold = new int[c];
        this.quota = new long[c];
        this.seen = new long[c];
    }

    /** The key of a value: the bits of {@code |x|}. */
    static int key(float x) {
        return Float.floatToRawIntBits(x) & 0x7FFFFFFF;
    }

    /** Pass 1: counts the high bits of {@code v[0..n)}. */
    void countHigh(float[] v, int n) {
        if (keys16 == DType.F16) {
            for (int e = 0; e < n; e++) {
                high[Float.floatToFloat16(v[e]) & 0x7FFF]++;
            }
            return;
        }
        // float32 keys: the top 15 bits; for bfloat16 values these are all their bits
        for (int e = 0; e < n; e++) {
            high[key(v[e]) >>> 16]++;
        }
    }

    /** False when the counting pass already fixed every threshold (15-bit keys). */
    boolean needsLowPass() {
        return keys16 == null;
    }

    /** The float32 key of a 15-bit key of {@link #keys16}. */
    private int floatKey(int key16) {
        return keys16 == DType.BF16 ? key16 << 16
                : Float.floatToRawIntBits(Float.float16ToFloat((short) key16)) & 0x7FFFFFFF;
    }

    /** Ends pass 1: finds each cut-off's bucket. */
    void endHigh() {
        for (int i = 0; i < k.length; i++) {
            bucket[i] = -1;
            if (k[i] == 0 || k[i] == numel) {
                continue;
            }
            long above = 0;
            for (int b = HIGH_BUCKETS - 1; b >= 0; b--) {
                if (above + high[b] >= k[i]) {
                    bucket[i] = b;
                    aboveBucket[i] = above;
                    if (keys16 != null) {
                        threshold[i] = floatKey(b);
                        quota[i] = k[i] - above;
                    } else {
                        low[i] = new long[LOW_BUCKETS];
                    }
                    break;
                }
                above += high[b];
            }
        }
    }

    /** Pass 2: counts the low bits of the keys that fall into a cut-off's bucket. */
    void countLow(float[] v, int n) {
        if (keys16 != null) {
            return;
        }
        for (int i = 0; i < k.length; i++) {
            int b = bucket[i];
            if (b < 0) {
                continue;
            }
            long[] h = low[i];
            for (int e = 0; e < n; e++) {
                int key = key(v[e]);
                if (key >>> 16 == b) {
                    h[key & 0xFFFF]++;
                }
            }
        }
    }

    /** Ends pass 2: fixes each cut-off's threshold key and how many ties at it are kept. */
    void endLow() {
        if (keys16 != null) {
            return;
        }
        for (int i = 0; i < k.length; i++) {
            if (bucket[i] < 0) {
                continue;
            }
            long above = aboveBucket[i];
            long[] h = low[i];
            for (int lo = LOW_BUCKETS - 1; lo >= 0; lo--) {
                if (above + h[lo] >= k[i]) {
                    threshold[i] = bucket[i] << 16 | lo;
                    quota[i] = k[i] - above;
                    break;
                }
                above += h[lo];
            }
            low[i] = null;
        }
    }

    /** Starts an ordered scan: the next {@link #selected} call is for element 0. */
    void rewind() {
        Arrays.fill(seen, 0);
    }

    /**
     * Whether the next element in index order, with this key, is among cut-off {@code i}'s
     * selection. Must be called exactly once per element and cut-off, in index order.
     */
    boolean selected(int i, int key) {
        if (bucket[i] < 0) {
            return k[i] != 0;
        }
        int t = threshold[i];
        if (key != t) {
            return key > t;
        }
        return seen[i]++ < quota[i];
    }

    /**
     * Whether cut-off {@code i} needs an ordered scan: false when it selects every element or
     * none ({@link #count} tells which).
     */
    boolean scans(int i) {
        return bucket[i] >= 0;
    }

    /** Cut-off {@code i}'s threshold key (after the counting passes, when it {@link #scans}). */
    int threshold(int i) {
        return threshold[i];
    }

    /** How many elements whose key equals cut-off {@code i}'s threshold it selects, the first in index order. */
    long quota(int i) {
        return quota[i];
    }

    /** How many elements cut-off {@code i} selects. */
    long count(int i) {
        return k[i];
    }
}
