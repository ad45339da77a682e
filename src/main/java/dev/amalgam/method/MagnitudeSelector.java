package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Kernels;

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
 * second pass is skipped ({@link #needsLowPass()}). With one cut-off, that pass histograms only
 * a bracket of keys after its first {@link #CALIBRATION} elements ({@link #countHigh}); a bracket
 * that misses the cut-off asks for the pass once more, in full ({@link #needsRecount}).
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
    /** Bracket mode (15-bit keys, one cut-off): the bracket's float keys, once the calibration is counted. */
    private boolean bracketed;
    private long counted;
    private int lo16;
    private int hi16;
    private int lo32;
    private int hi32;
    private long above;
    private int[] inside = new int[0];
    private boolean recount;

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

    /** Elements counted in full before a bracket is fixed (one executor chunk). */
    static final int CALIBRATION = 1 << 16;
    /** Half the bracket's width, as a fraction of the elements, around the cut-off's rank. */
    static final double BRACKET = 0.08;

    /**
     * Pass 1: counts the high bits of {@code v[0..n)}. With 15-bit keys and one cut-off, after
     * {@link #CALIBRATION} elements counted in full the rest are counted only inside a bracket
     * of keys around the cut-off's rank in those (the keys above it as one number); should the
     * cut-off fall outside, {@link #needsRecount} asks for the pass again, counted in full.
     */
    void countHigh(float[] v, int n) {
        if (bracketed) {
            if (inside.length < n + 16) {
                inside = new int[n + 16];
            }
            long r = Kernels.bracketKeys(v, n, lo32, hi32, inside);
            above += r >>> 32;
            int c = (int) r;
            if (keys16 == DType.F16) {
                for (int i = 0; i < c; i++) {
                    high[Float.floatToFloat16(Float.intBitsToFloat(inside[i])) & 0x7FFF]++;
                }
            } else {
                for (int i = 0; i < c; i++) {
                    high[inside[i] >>> 16]++;
                }
            }
            return;
        }
        countAll(v, n);
        counted += n;
        if (keys16 != null && !recount && k.length == 1 && k[0] > 0 && k[0] < numel && counted >= CALIBRATION
                && counted < numel) {
            fixBracket();
        }
    }

    /** The bracket: the calibration's buckets from rank (q - BRACKET)·counted to (q + BRACKET)·counted, one more each side. */
    private void fixBracket() {
        double q = (double) k[0] / numel;
        long top = (long) Math.max(0, (q - BRACKET) * counted);
        long bottom = (long) Math.min(counted, Math.ceil((q + BRACKET) * counted));
        int hi = HIGH_BUCKETS - 1;
        int lo = 0;
        long run = 0;
        boolean hiSet = false;
        for (int b = HIGH_BUCKETS - 1; b >= 0; b--) {
            run += high[b];
            if (!hiSet && run > top) {
                hi = b;
                hiSet = true;
            }
            if (run >= bottom) {
                lo = b;
                break;
            }
        }
        hi16 = Math.min(HIGH_BUCKETS - 1, hi + 1);
        lo16 = Math.max(0, lo - 1);
        hi32 = hi16 == HIGH_BUCKETS - 1 ? 0x7FFFFFFF : floatKey(hi16 + 1) - 1;
        lo32 = floatKey(lo16);
        bracketed = true;
    }

    /** Whether the bracketed count missed the cut-off: the pass must run again, counted in full. */
    boolean needsRecount() {
        return recount && counted == 0;
    }

    private void countAll(float[] v, int n) {
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

    /** Ends pass 1: finds each cut-off's bucket (or, bracketed, asks for a recount when it missed). */
    void endHigh() {
        if (bracketed) {
            bracketed = false;
            long sum = above;
            for (int b = HIGH_BUCKETS - 1; b > hi16; b--) {
                sum += high[b];
            }
            int found = -1;
            for (int b = hi16; b >= lo16 && sum < k[0]; b--) {
                if (sum + high[b] >= k[0]) {
                    found = b;
                }
                sum += high[b];
            }
            if (found < 0) {
                Arrays.fill(high, 0);
                recount = true;
                counted = 0;
                return;
            }
            bucket[0] = found;
            aboveBucket[0] = sum - high[found];
            threshold[0] = floatKey(found);
            quota[0] = k[0] - aboveBucket[0];
            return;
        }
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
