package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;
import dev.amalgam.kernel.Kernels;
import dev.amalgam.method.TaskArithmetic.Sparsification;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The streaming computation of one tensor for {@link TaskArithmetic}: method stage. Measuring
 * passes depend on the sparsification of the models whose density is below 1:
 * <ul>
 *   <li>magnitude, outliers: (1) the histogram of |δ| (with rescale also ‖δ‖₁), then, for float32
 *       values only, (2) the low-bit histogram; with rescale (3) ‖kept‖₁. For 16-bit values
 *       pass (1) counts in a bracket after its first chunk, and when a bracket misses a RECOUNT
 *       pass follows it (added in {@link #endPass});</li>
 *   <li>random, DELLA with rescale: (1) ‖δ‖₁ and ‖kept‖₁;</li>
 *   <li>otherwise none.</li>
 * </ul>
 * The applying pass recomputes δ, masks and rescales it, and combines the models per element
 * (without sparsification or consensus in one fused kernel, {@link Kernels#taskSum}).
 * A random keep mask is drawn once: the measuring pass keeps it as bits (one per element and
 * model, up to {@link #MASK_CACHE_BITS} per tensor, out of a process-wide budget of
 * {@link #MASK_CACHE_BUDGET_BITS} taken when the first chunk is measured and returned after the
 * last one is applied; a merge that fails in between keeps its share) for the
 * applying pass, and a tensor too large for that, or one the budget cannot take, draws it again
 * from the keyed stream, which gives the same bits. So the caches do not grow with the workers. Whole-tensor
 * sums accumulate in eight interleaved double sums ({@link Kernels#sumAbs}) and are rounded
 * once. Memory: one δ chunk per model, the selection histograms, the cached masks, and for DELLA
 * one row of keys and ranks.
 */
final class TaskArithmeticMerge implements TensorMerge {

    /** The most keep-mask bits one tensor caches between its passes (32 MiB). */
    static final long MASK_CACHE_BITS = 1L << 28;
    /** The most keep-mask bits all tensors in flight cache at once (64 MiB), whatever the workers. */
    static final long MASK_CACHE_BUDGET_BITS = 1L << 29;
    private static final AtomicLong MASK_CACHE_FREE = new AtomicLong(MASK_CACHE_BUDGET_BITS);

    /** Takes {@code bits} from the process's mask-cache budget; false, taking nothing, where it has too few. */
    static boolean reserveMaskCache(long bits) {
        for (long free = MASK_CACHE_FREE.get(); free >= bits; free = MASK_CACHE_FREE.get()) {
            if (MASK_CACHE_FREE.compareAndSet(free, free - bits)) {
                return true;
            }
        }
        return false;
    }

    static void releaseMaskCache(long bits) {
        MASK_CACHE_FREE.addAndGet(bits);
    }

    /** The budget's bits not held by any tensor now. */
    static long maskCacheFree() {
        return MASK_CACHE_FREE.get();
    }

    private enum Phase { HIGH, RECOUNT, LOW, AFTER, SUMS }

    private final DType d;
    private final int base;
    private final int[] models;
    private final float[] w;
    private final boolean consensus;
    private final boolean normalize;
    private final float lambda;
    private final boolean scaleByLambda;
    private final float divisor;
    private final Sparsifier[] sparsifiers;
    /** The measuring passes; a RECOUNT is added after HIGH when a bracketed count missed its cut-off. */
    private final List<Phase> phases;
    private final boolean rowAligned;
    /** Neither sparsification nor consensus: the applying pass is one fused kernel. */
    private final boolean plain;
    private final long numel;
    /** Bits of the mask-cache budget this tensor would hold, and does hold until its last chunk is applied. */
    private final long wantedBits;
    private long reservedBits;
    private float[][] delta = new float[0][0];

    TaskArithmeticMerge(Sparsification kind, boolean consensus, MergeContext ctx) {
        this.d = ctx.workDtype();
        this.base = ctx.baseIndex();
        this.consensus = consensus;
        this.normalize = ctx.flag("normalize");
        boolean rescale = ctx.flag("rescale");
        Double lam = ctx.global("lambda");
        this.lambda = lam == null ? 1f : (float) (double) lam;
        this.scaleByLambda = lam != null && lam != 1.0;
        int n = ctx.operands();
        this.models = new int[n - 1];
        for (int k = 0, j = 0; k < n; k++) {
            if (k != base) {
                models[j++] = k;
            }
        }
        int m = models.length;
        this.w = new float[m];
        this.sparsifiers = new Sparsifier[m];
        float sumW = 0f;
        long numel = ctx.numel();
        boolean random = kind == Sparsification.RANDOM || kind == Sparsification.RANK_MAGNITUDE_SAMPLING;
        // the budget is taken when the first chunk is measured, not here: merges are prepared ahead
        boolean cacheMasks = rescale && random && numel * m <= MASK_CACHE_BITS;
        this.wantedBits = cacheMasks ? numel * m : 0;
        int draws = 0;
        for (int j = 0; j < m; j++) {
            int op = models[j];
            w[j] = Codec.round(d, (float) TaskArithmetic.value(ctx, op, "weight", 0.0));
            sumW = j == 0 ? w[j] : sumW + w[j];
            double density = TaskArithmetic.value(ctx, op, "density", 1.0);
            if (density >= 1 || kind == Sparsification.NONE) {
                continue;
            }
            long k = (long) (density * numel);
            sparsifiers[j] = switch (kind) {
                case MAGNITUDE -> new Selection(d, rescale, MagnitudeSelector.exact(d, numel, k), false);
                case MAGNITUDE_OUTLIERS -> {
                    long top = (long) (TaskArithmetic.value(ctx, op, "gamma", 0.01) * numel);
                    long bottom = numel - k - top;
                    if (bottom < 0) {
                        top += bottom;
                    }
                    yield new Selection(d, rescale, MagnitudeSelector.exact(d, numel, top + k, top), true);
                }
                case RANDOM -> new Bernoulli(d, rescale, Randomness.words(ctx, op, draws++), density, numel,
                        cacheMasks);
                case RANK_MAGNITUDE_SAMPLING -> new Della(d, rescale,
                        density <= 0 ? null : Randomness.words(ctx, op, draws++), density,
                        TaskArithmetic.value(ctx, op, "epsilon", 0.15), rowLength(ctx.shape()), numel, cacheMasks);
                case NONE -> throw new IllegalStateException();
            };
        }
        float div = Codec.round(d, sumW);
        float guard = d == DType.F16 ? 1e-8f : Codec.round(d, 1e-8f);
        this.divisor = Math.abs(div) < guard ? 1f : div;
        boolean any = Arrays.stream(sparsifiers).anyMatch(s -> s != null);
        List<Phase> p = new ArrayList<>();
        if (any && (kind == Sparsification.MAGNITUDE || kind == Sparsification.MAGNITUDE_OUTLIERS)) {
            p.add(Phase.HIGH);
            if (Arrays.stream(sparsifiers).anyMatch(s -> s instanceof Selection sel && sel.selector.needsLowPass())) {
                p.add(Phase.LOW);
            }
            if (rescale) {
                p.add(Phase.AFTER);
            }
        } else if (any && rescale) {
            p.add(Phase.SUMS);
        }
        this.phases = p;
        this.rowAligned = any && kind == Sparsification.RANK_MAGNITUDE_SAMPLING;
        this.plain = !any && !consensus;
        this.numel = numel;
    }

    /** DELLA's row: the last dimension, the whole tensor for 1-D, one element for a scalar. */
    private static int rowLength(long[] shape) {
        return shape.length == 0 ? 1 : Math.toIntExact(shape[shape.length - 1]);
    }

    @Override
    public boolean rowAligned() {
        return rowAligned;
    }

    @Override
    public int measuringPasses() {
        return phases.size();
    }

    @Override
    public void measure(int pass, float[][] in, int n, long offset) {
        if (wantedBits > 0 && pass == 0 && offset == 0 && reservedBits == 0) {
            if (reserveMaskCache(wantedBits)) {
                reservedBits = wantedBits;
            } else {
                dropMaskCaches();
            }
        }
        Phase phase = phases.get(pass);
        ensureScratch(n);
        for (int j = 0; j < models.length; j++) {
            Sparsifier s = sparsifiers[j];
            if (s != null) {
                float[] dj = delta(j, in, n);
                s.measure(phase, dj, n, offset);
            }
        }
    }

    @Override
    public void endPass(int pass) {
        boolean recount = false;
        for (Sparsifier s : sparsifiers) {
            if (s != null) {
                s.endPhase(phases.get(pass));
                recount |= s instanceof Selection sel && sel.recounting;
            }
        }
        if (recount && phases.get(pass) == Phase.HIGH) {
            phases.add(pass + 1, Phase.RECOUNT);
        }
    }

    private void ensureScratch(int n) {
        if (models.length > 0 && (delta.length != models.length || delta[0].length < n)) {
            delta = new float[models.length][n];
        }
    }

    /** Computes δ_j = R(x - base) for one chunk into the scratch buffer of model j. */
    private float[] delta(int j, float[][] in, int n) {
        float[] out = delta[j];
        Kernels.subRound(d, in[models[j]], in[base], out, n);
        return out;
    }

    @Override
    public void apply(float[][] in, int n, long offset, float[] out) {
        float[] b = in[base];
        int m = models.length;
        if (m == 0) {
            System.arraycopy(b, 0, out, 0, n);
            return;
        }
        ensureScratch(n);
        if (plain) {
            Kernels.taskSum(d, in, models, b, w, n, normalize, divisor, scaleByLambda, lambda, delta, out);
            return;
        }
        for (int j = 0; j < m; j++) {
            float[] dj = delta(j, in, n);
            if (sparsifiers[j] != null) {
                sparsifiers[j].apply(dj, n, offset);
            }
            Kernels.scaleRound(d, dj, w[j], n);
        }
        Kernels.taskCombine(d, delta, w, b, n, consensus, normalize, divisor, scaleByLambda, lambda, out);
        if (reservedBits > 0 && offset + n == numel) {
            // the last chunk (a merge with measuring passes applies the whole tensor in order)
            dropMaskCaches();
            releaseMaskCache(reservedBits);
            reservedBits = 0;
        }
    }

    /** Every random mask stops caching and lets go of what it cached. */
    private void dropMaskCaches() {
        for (Sparsifier s : sparsifiers) {
            if (s instanceof RandomMask r) {
                r.dropCache();
            }
        }
    }

    /**
     * One model's task-vector thinning: a keep mask applied as {@code δ · mask} (so a dropped
     * negative value becomes -0, as in torch) and, with rescale, the L1 factor. {@code w} is the
     * dtype the sparsification computes in, {@code d} the working dtype.
     */
    private abstract static class Sparsifier {
        final DType w;
        final DType d;
        final boolean rescale;
        private final double[] before = new double[8];
        private final double[] after = new double[8];
        private CascadeSum torchBefore;
        private CascadeSum torchAfter;
        private final long numel;
        private float factor;
        private boolean scaled;

        Sparsifier(DType w, DType d, boolean rescale, long numel) {
            this.w = w;
            this.d = d;
            this.rescale = rescale;
            this.numel = numel;
        }

        /** In the mergekit-compatible mode float32 sums add in torch's order; otherwise in double. */
        private boolean torchOrder() {
            return w == DType.F32 && Randomness.MERGEKIT.isBound();
        }

        /** Zeroes the dropped elements of one chunk in place (in index order); {@code measuring} in a measuring pass. */
        abstract void mask(float[] v, int n, long offset, boolean measuring);

        void measure(Phase phase, float[] v, int n, long offset) {
            if (phase == Phase.SUMS) {
                addBefore(v, n, offset);
            }
            mask(v, n, offset, true);
            if (torchOrder()) {
                if (torchAfter == null) {
                    torchAfter = new CascadeSum(numel);
                }
                torchAfter.addAbs(v, n);
            } else {
                Kernels.sumAbs(v, n, offset, after);
            }
        }

        void endPhase(Phase phase) {
            if (phase == Phase.SUMS || phase == Phase.AFTER) {
                float b = torchBefore != null ? torchBefore.result() : Codec.round(w, (float) Kernels.total(before));
                float a = torchAfter != null ? torchAfter.result() : Codec.round(w, (float) Kernels.total(after));
                float eps = Codec.round(w, 1e-7f);
                scaled = rescale && b >= eps && a >= eps;
                factor = scaled ? Codec.round(w, b / a) : 1f;
            }
        }

        void addBefore(float[] v, int n, long offset) {
            if (torchOrder()) {
                if (torchBefore == null) {
                    torchBefore = new CascadeSum(numel);
                }
                torchBefore.addAbs(v, n);
            } else {
                Kernels.sumAbs(v, n, offset, before);
            }
        }

        /** Masks and, with rescale, scales: {@code R_d(R_w(v·f))}, which is {@code R_d(v·f)} as W is D or float32. */
        final void apply(float[] v, int n, long offset) {
            mask(v, n, offset, false);
            if (scaled) {
                Kernels.scaleRound(d, v, factor, n);
            }
        }
    }

    /**
     * A sparsifier whose keep decisions are bits drawn per chunk; with a cache, the bits of the
     * measuring pass are kept, chunk by chunk in offset order, for the applying pass.
     */
    private abstract static class RandomMask extends Sparsifier {
        private List<long[]> cached;
        private List<Long> cachedAt;
        private int cursor;
        long[] bits = new long[0];

        RandomMask(DType w, DType d, boolean rescale, long numel, boolean cache) {
            super(w, d, rescale, numel);
            this.cached = cache ? new ArrayList<>() : null;
            this.cachedAt = cache ? new ArrayList<>() : null;
        }

        /** Lets go of the cached bits, and caches no more: the applying pass is done, or there is no room. */
        void dropCache() {
            cached = null;
            cachedAt = null;
        }

        /** Sets {@code bits[0 .. (n+63)/64)} to the keep decisions of elements {@code offset .. offset+n}. */
        abstract void draw(int n, long offset, float[] v);

        @Override
        final void mask(float[] v, int n, long offset, boolean measuring) {
            int words = (n + 63) >>> 6;
            long[] use = null;
            if (cached != null && !measuring && cursor < cached.size() && cachedAt.get(cursor) == offset) {
                use = cached.get(cursor++);
            }
            if (use == null) {
                if (bits.length < words) {
                    bits = new long[words];
                }
                draw(n, offset, v);
                use = bits;
                if (cached != null && measuring) {
                    cached.add(Arrays.copyOf(bits, words));
                    cachedAt.add(offset);
                }
            }
            Kernels.maskBits(v, n, use);
        }
    }

    /** Magnitude (TIES) and magnitude outliers (breadcrumbs): cut-offs on the |δ| order. */
    private static final class Selection extends Sparsifier {
        private final MagnitudeSelector selector;
        private final boolean band;
        private final long[] left = new long[2];
        /** The HIGH pass's bracketed count missed: the RECOUNT pass counts again, in full. */
        boolean recounting;

        /** {@code band}: keep cut-off 0 minus cut-off 1, else just cut-off 0. */
        Selection(DType d, boolean rescale, MagnitudeSelector selector, boolean band) {
            super(d, d, rescale, 0);
            this.selector = selector;
            this.band = band;
        }

        @Override
        void measure(Phase phase, float[] v, int n, long offset) {
            switch (phase) {
                case HIGH -> {
                    selector.countHigh(v, n);
                    if (rescale) {
                        addBefore(v, n, offset);
                    }
                }
                case RECOUNT -> {
                    if (recounting) {
                        selector.countHigh(v, n);
                    }
                }
                case LOW -> selector.countLow(v, n);
                default -> super.measure(phase, v, n, offset);
            }
        }

        @Override
        void endPhase(Phase phase) {
            switch (phase) {
                case HIGH -> {
                    selector.endHigh();
                    recounting = selector.needsRecount();
                }
                case RECOUNT -> {
                    if (recounting) {
                        selector.endHigh();
                        recounting = false;
                    }
                }
                case LOW -> selector.endLow();
                default -> super.endPhase(phase);
            }
            left[0] = selector.quota(0);
            left[1] = band ? selector.quota(1) : 0;
        }

        /**
         * Keeps cut-off 0's selection and, for a band, then drops cut-off 1's. Cut-off 1 never
         * selects more than cut-off 0, so its ties are among those cut-off 0 kept: zeroing first
         * changes none of its decisions.
         */
        @Override
        void mask(float[] v, int n, long offset, boolean measuring) {
            cut(0, v, n, true);
            if (band) {
                cut(1, v, n, false);
            }
        }

        private void cut(int i, float[] v, int n, boolean keep) {
            if (selector.scans(i)) {
                left[i] = Kernels.maskTop(v, n, selector.threshold(i), left[i], keep);
            } else if ((selector.count(i) != 0) != keep) {
                for (int e = 0; e < n; e++) {
                    v[e] *= 0f;
                }
            }
        }
    }

    /** The working dtype of random and DELLA sparsification: bf16 stays bf16, else float32. */
    private static DType randomDtype(DType d) {
        return d == DType.BF16 ? DType.BF16 : DType.F32;
    }

    /** DARE: keep each element with probability R_W(density). */
    private static final class Bernoulli extends RandomMask {
        private final RandomWords rng;
        private final int threshold;
        private int[] words = new int[0];

        Bernoulli(DType d, boolean rescale, RandomWords rng, double density, long numel, boolean cache) {
            super(randomDtype(d), d, rescale, numel, cache);
            this.rng = rng;
            this.threshold = RandomWords.threshold(Codec.round(w, (float) density));
        }

        @Override
        void draw(int n, long offset, float[] v) {
            if (words.length < n) {
                words = new int[n];
            }
            rng.words(offset, n, words);
            Kernels.keepBits(words, n, threshold, bits);
        }
    }

    /**
     * DELLA: within each row, the element of ascending |δ| rank {@code i} (ties: the lower index
     * ranks higher) is kept with probability p[i], computed as mergekit does in dtype W:
     * {@code r = R(R(i)+1)}, {@code rn = clamp(R(R(r-rmin)/R(rmax-rmin)), 0, 1)},
     * {@code p = R(R(R(rn·2)·eps) + R(density-eps))}; density 0 keeps nothing.
     *
     * <p>Ranks: bfloat16 and float16 values have short magnitude keys (|v|'s float32 bits without
     * the 16, or 13, low bits that are always zero; for normal values these run consecutively),
     * so a row whose non-zero keys span at most {@link #WIDE_SPAN} values is ranked by a counting
     * sort over that span, zeros in a bucket of their own below it (up to {@link #COUNTING_SPAN}
     * values in four blocks of the row counted side by side, as few distinct keys repeat often),
     * a row whose keys span up to 2^16 values by a stable two-byte LSD radix sort of the keys
     * less the smallest; other rows (and float32) by a stable LSD radix sort of the float32 keys,
     * skipping the bytes no key of the row varies in. In the mergekit-compatible mode rows are
     * ordered as torch's CPU argsort orders them.
     */
    private static final class Della extends RandomMask {
        private static final int COUNTING_SPAN = 512;
        private static final int WIDE_SPAN = 1 << 15;
        private final RandomWords rng;
        private final int row;
        private final float[] magnitudes;
        /** (row) the integer keep threshold of each rank. */
        private final int[] threshold;
        /** (chunk) each element's random word and the threshold of its rank. */
        private int[] words = new int[0];
        private int[] thresholdOf = new int[0];
        private int[] keys;
        private int[] idx;
        private int[] keys2;
        private int[] idx2;
        private final int[] count = new int[256];
        private final int[][] buckets = new int[4][COUNTING_SPAN + 1];
        private int[] wide;

        Della(DType d, boolean rescale, RandomWords rng, double density, double epsilon, int row, long numel,
              boolean cache) {
            super(randomDtype(d), d, rescale, numel, cache);
            this.rng = rng;
            this.row = row;
            this.magnitudes = Randomness.MERGEKIT.isBound() ? new float[row] : null;
            this.threshold = new int[row];
            this.keys = new int[row];
            this.idx = new int[row];
            this.keys2 = new int[row];
            this.idx2 = new int[row];
            float[] p = new float[row];
            if (density <= 0 || row == 1) {
                Arrays.fill(p, density <= 0 ? 0f : Codec.round(w, (float) density));
            } else {
                float rmin = Codec.round(w, Codec.round(w, 0f) + 1f);
                float rmax = Codec.round(w, Codec.round(w, (float) (row - 1)) + 1f);
                float span = Codec.round(w, rmax - rmin);
                float eps = (float) epsilon;
                float low = Codec.round(w, (float) (density - epsilon));
                for (int i = 0; i < row; i++) {
                    float r = Codec.round(w, Codec.round(w, (float) i) + 1f);
                    float rn = Math.clamp(Codec.round(w, Codec.round(w, r - rmin) / span), 0f, 1f);
                    p[i] = Codec.round(w, Codec.round(w, Codec.round(w, rn * 2f) * eps) + low);
                }
            }
            for (int i = 0; i < row; i++) {
                threshold[i] = RandomWords.threshold(p[i]);
            }
        }

        /** The chunk's words, each element's threshold by its rank in its row, then the bits in bulk. */
        @Override
        void draw(int n, long offset, float[] v) {
            if (rng == null) {
                Arrays.fill(bits, 0, (n + 63) >>> 6, 0L);
                return;
            }
            if (words.length < n) {
                words = new int[n];
                thresholdOf = new int[n];
            }
            rng.words(offset, n, words);
            for (int start = 0; start < n; start += row) {
                if (magnitudes != null || !countingRanks(v, start)) {
                    rank(v, start);
                    for (int i = 0; i < row; i++) {
                        thresholdOf[start + idx[i]] = threshold[i];
                    }
                }
            }
            Kernels.keepBitsEach(words, thresholdOf, n, bits);
        }

        /**
         * Ranks the row at {@code start} by a counting sort of its 15-bit keys into
         * {@code thresholdOf}; false, doing nothing, when the keys are not 15-bit or their
         * non-zero ones span too many values.
         */
        private boolean countingRanks(float[] v, int start) {
            // bfloat16 and float16 values have no bits below these: the keys are exact and ordered
            int shift = d == DType.BF16 ? 16 : d == DType.F16 ? 13 : -1;
            if (shift < 0) {
                return false;
            }
            long range = Kernels.magnitudeKeys(v, start, row, shift, keys);
            int hi = (int) (range >>> 32);
            int lo = (int) range;
            // under = (smallest non-zero key) - 1, so that bucket 0 is the zeros'
            int under = lo == 0x7FFFFFFF ? 0 : lo - 1;
            // bucket 0 holds the zeros, bucket k - under the key k
            int span = hi - under + 1;
            if (span > WIDE_SPAN + 1) {
                return span <= 1 << 16 && radixRanks(start, under);
            }
            for (int j = 0; j < row; j++) {
                keys[j] = Math.max(keys[j] - under, 0);
            }
            if (span > COUNTING_SPAN + 1) {
                return wideRanks(start, span);
            }
            // four blocks of the row counted side by side, each with its own buckets, so that
            // runs of equal keys do not chain every increment through one memory location
            int l = row >> 2;
            int[] h0 = buckets[0];
            int[] h1 = buckets[1];
            int[] h2 = buckets[2];
            int[] h3 = buckets[3];
            for (int[] h : buckets) {
                Arrays.fill(h, 0, span, 0);
            }
            for (int t = 0; t < l; t++) {
                h0[keys[t]]++;
                h1[keys[l + t]]++;
                h2[keys[2 * l + t]]++;
                h3[keys[3 * l + t]]++;
            }
            for (int j = 4 * l; j < row; j++) {
                h3[keys[j]]++;
            }
            // the first rank of each (bucket, block): descending index, so block 3 ranks first
            for (int b = 0, sum = 0; b < span; b++) {
                int c3 = h3[b];
                int c2 = h2[b];
                int c1 = h1[b];
                int c0 = h0[b];
                h3[b] = sum;
                h2[b] = sum + c3;
                h1[b] = sum + c3 + c2;
                h0[b] = sum + c3 + c2 + c1;
                sum += c3 + c2 + c1 + c0;
            }
            int[] out = thresholdOf;
            for (int j = row - 1; j >= 4 * l; j--) {
                out[start + j] = threshold[h3[keys[j]]++];
            }
            for (int t = l - 1; t >= 0; t--) {
                out[start + 3 * l + t] = threshold[h3[keys[3 * l + t]]++];
                out[start + 2 * l + t] = threshold[h2[keys[2 * l + t]]++];
                out[start + l + t] = threshold[h1[keys[l + t]]++];
                out[start + t] = threshold[h0[keys[t]]++];
            }
            return true;
        }

        /**
         * Ranks a row whose bucket indices span more than the four-block buckets hold: one
         * histogram, whose clearing and prefix sum cost a quarter of four (many distinct keys
         * rarely repeat back to back, so one histogram chains few increments).
         */
        private boolean wideRanks(int start, int span) {
            if (wide == null) {
                wide = new int[WIDE_SPAN + 1];
            }
            int[] h = wide;
            Arrays.fill(h, 0, span, 0);
            for (int j = 0; j < row; j++) {
                h[keys[j]]++;
            }
            for (int b = 0, sum = 0; b < span; b++) {
                int c = h[b];
                h[b] = sum;
                sum += c;
            }
            for (int j = row - 1; j >= 0; j--) {
                thresholdOf[start + j] = threshold[h[keys[j]]++];
            }
            return true;
        }

        /**
         * Ranks the row at {@code start}, whose keys less {@code under} (zeros 0) fit in 16 bits,
         * by a stable LSD radix sort of two bytes, and writes each element's threshold; always true.
         */
        private boolean radixRanks(int start, int under) {
            for (int t = 0; t < row; t++) {
                int j = row - 1 - t;
                keys2[t] = Math.max(keys[j] - under, 0);
                idx[t] = j;
            }
            int[] k = keys;
            keys = keys2;
            keys2 = k;
            sortBytes(0xFFFF);
            for (int i = 0; i < row; i++) {
                thresholdOf[start + idx[i]] = threshold[i];
            }
            return true;
        }

        /**
         * Sorts the row at {@code start} into {@code idx}: ascending key, ties by descending index;
         * in the mergekit-compatible mode, in the order torch's CPU argsort gives.
         */
        private void rank(float[] v, int start) {
            if (magnitudes != null) {
                for (int j = 0; j < row; j++) {
                    magnitudes[j] = Math.abs(v[start + j]);
                    idx[j] = j;
                }
                IntroSort.sort(magnitudes, idx, row);
                return;
            }
            int varying = 0;
            int first = MagnitudeSelector.key(v[start + row - 1]);
            for (int t = 0; t < row; t++) {
                int j = row - 1 - t;
                keys[t] = MagnitudeSelector.key(v[start + j]);
                idx[t] = j;
                varying |= keys[t] ^ first;
            }
            sortBytes(varying);
        }

        /**
         * Sorts {@code keys} with {@code idx} alongside, stably, by the bytes of the keys that
         * {@code varying} marks (least significant first): one counting pass a byte.
         */
        private void sortBytes(int varying) {
            for (int shift = 0; shift < 32; shift += 8) {
                if ((varying >>> shift & 0xFF) == 0) {
                    continue;
                }
                Arrays.fill(count, 0);
                for (int t = 0; t < row; t++) {
                    count[keys[t] >>> shift & 0xFF]++;
                }
                for (int b = 0, sum = 0; b < 256; b++) {
                    int c = count[b];
                    count[b] = sum;
                    sum += c;
                }
                for (int t = 0; t < row; t++) {
                    int at = count[keys[t] >>> shift & 0xFF]++;
                    keys2[at] = keys[t];
                    idx2[at] = idx[t];
                }
                int[] k = keys;
                keys = keys2;
                keys2 = k;
                int[] x = idx;
                idx = idx2;
                idx2 = x;
            }
        }
    }
}
