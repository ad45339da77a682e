package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;
import dev.amalgam.method.TaskArithmetic.Sparsification;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The streaming computation of one tensor for {@link TaskArithmetic}: method stage. Measuring
 * passes depend on the sparsification of the models whose density is below 1:
 * <ul>
 *   <li>magnitude, outliers: (1) high-bit histograms of |δ| and ‖δ‖₁, (2) low-bit histograms,
 *       then with rescale (3) ‖kept‖₁;</li>
 *   <li>random, DELLA with rescale: (1) ‖δ‖₁ and ‖kept‖₁ (the masks are recomputed from the
 *       keyed stream, so both passes see the same draws);</li>
 *   <li>otherwise none.</li>
 * </ul>
 * The applying pass recomputes δ, masks and rescales it, and combines the models per element.
 * Whole-tensor sums accumulate in double and are rounded once. Memory: one δ chunk per model,
 * the selection histograms, and for DELLA one row of sort keys.
 */
final class TaskArithmeticMerge implements TensorMerge {

    private enum Phase { HIGH, LOW, AFTER, SUMS }

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
    private final List<Phase> phases;
    private final boolean rowAligned;
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
                case MAGNITUDE -> new Selection(d, rescale, new MagnitudeSelector(numel, k), false);
                case MAGNITUDE_OUTLIERS -> {
                    long top = (long) (TaskArithmetic.value(ctx, op, "gamma", 0.01) * numel);
                    long bottom = numel - k - top;
                    if (bottom < 0) {
                        top += bottom;
                    }
                    yield new Selection(d, rescale, new MagnitudeSelector(numel, top + k, top), true);
                }
                case RANDOM -> new Bernoulli(d, rescale, Randomness.words(ctx, op, draws++), density, numel);
                case RANK_MAGNITUDE_SAMPLING -> new Della(d, rescale,
                        density <= 0 ? null : Randomness.words(ctx, op, draws++), density,
                        TaskArithmetic.value(ctx, op, "epsilon", 0.15), rowLength(ctx.shape()), numel);
                case NONE -> throw new IllegalStateException();
            };
        }
        float div = Codec.round(d, sumW);
        float guard = d == DType.F16 ? 1e-8f : Codec.round(d, 1e-8f);
        this.divisor = Math.abs(div) < guard ? 1f : div;
        boolean any = Arrays.stream(sparsifiers).anyMatch(s -> s != null);
        List<Phase> p = new ArrayList<>();
        if (any && (kind == Sparsification.MAGNITUDE || kind == Sparsification.MAGNITUDE_OUTLIERS)) {
            p.addAll(List.of(Phase.HIGH, Phase.LOW));
            if (rescale) {
                p.add(Phase.AFTER);
            }
        } else if (any && rescale) {
            p.add(Phase.SUMS);
        }
        this.phases = List.copyOf(p);
        this.rowAligned = any && kind == Sparsification.RANK_MAGNITUDE_SAMPLING;
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
        for (Sparsifier s : sparsifiers) {
            if (s != null) {
                s.endPhase(phases.get(pass));
            }
        }
    }

    private void ensureScratch(int n) {
        if (models.length > 0 && (delta.length != models.length || delta[0].length < n)) {
            delta = new float[models.length][n];
        }
    }

    /** Computes δ_j = R(x - base) for one chunk into the scratch buffer of model j. */
    private float[] delta(int j, float[][] in, int n) {
        float[] x = in[models[j]];
        float[] b = in[base];
        float[] out = delta[j];
        for (int e = 0; e < n; e++) {
            out[e] = x[e] - b[e];
        }
        Codec.round(d, out, 0, n);
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
        float[][] wd = new float[m][];
        for (int j = 0; j < m; j++) {
            float[] dj = delta(j, in, n);
            if (sparsifiers[j] != null) {
                sparsifiers[j].apply(dj, n, offset);
            }
            float wj = w[j];
            for (int e = 0; e < n; e++) {
                dj[e] = dj[e] * wj;
            }
            Codec.round(d, dj, 0, n);
            wd[j] = dj;
        }
        if (!consensus) {
            applyLinear(wd, m, b, n, out);
            return;
        }
        for (int e = 0; e < n; e++) {
            float mixed;
            float div = divisor;
            if (consensus) {
                float s = wd[0][e];
                for (int j = 1; j < m; j++) {
                    s += wd[j][e];
                }
                boolean positive = Codec.round(d, s) >= 0f;
                float acc = 0f;
                float accW = 0f;
                for (int j = 0; j < m; j++) {
                    float v = wd[j][e];
                    float keep = (positive ? v > 0f : v < 0f) ? 1f : 0f;
                    acc = j == 0 ? v * keep : acc + v * keep;
                    accW = j == 0 ? w[j] * keep : accW + w[j] * keep;
                }
                mixed = Codec.round(d, acc);
                div = Codec.round(d, accW);
                if (div == 0f) {
                    div = 1f;
                }
            } else {
                float acc = wd[0][e];
                for (int j = 1; j < m; j++) {
                    acc += wd[j][e];
                }
                mixed = Codec.round(d, acc);
            }
            if (normalize) {
                mixed = Codec.round(d, mixed / div);
            }
            if (scaleByLambda) {
                mixed = Codec.round(d, mixed * lambda);
            }
            out[e] = Codec.round(d, b[e] + mixed);
        }
    }

    /**
     * The no-consensus combination in bulk passes, each rounded to D as a whole:
     * {@code mixed = R(Σ wd)}, then {@code R(mixed / div)}, {@code R(mixed · λ)}, {@code R(base + mixed)}.
     */
    private void applyLinear(float[][] wd, int m, float[] b, int n, float[] out) {
        float[] acc = out;
        System.arraycopy(wd[0], 0, acc, 0, n);
        for (int j = 1; j < m; j++) {
            float[] x = wd[j];
            for (int e = 0; e < n; e++) {
                acc[e] += x[e];
            }
        }
        Codec.round(d, acc, 0, n);
        if (normalize) {
            float div = divisor;
            for (int e = 0; e < n; e++) {
                acc[e] /= div;
            }
            Codec.round(d, acc, 0, n);
        }
        if (scaleByLambda) {
            float l = lambda;
            for (int e = 0; e < n; e++) {
                acc[e] *= l;
            }
            Codec.round(d, acc, 0, n);
        }
        for (int e = 0; e < n; e++) {
            acc[e] += b[e];
        }
        Codec.round(d, acc, 0, n);
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
        private double before;
        private double after;
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

        /** Zeroes the dropped elements of one chunk in place (in index order). */
        abstract void mask(float[] v, int n, long offset);

        void measure(Phase phase, float[] v, int n, long offset) {
            if (phase == Phase.SUMS) {
                addBefore(v, n);
            }
            mask(v, n, offset);
            if (torchOrder()) {
                if (torchAfter == null) {
                    torchAfter = new CascadeSum(numel);
                }
                torchAfter.addAbs(v, n);
            } else {
                after += l1(v, n);
            }
        }

        void endPhase(Phase phase) {
            if (phase == Phase.SUMS || phase == Phase.AFTER) {
                float b = torchBefore != null ? torchBefore.result() : Codec.round(w, (float) before);
                float a = torchAfter != null ? torchAfter.result() : Codec.round(w, (float) after);
                float eps = Codec.round(w, 1e-7f);
                scaled = rescale && b >= eps && a >= eps;
                factor = scaled ? Codec.round(w, b / a) : 1f;
            }
        }

        void addBefore(float[] v, int n) {
            if (torchOrder()) {
                if (torchBefore == null) {
                    torchBefore = new CascadeSum(numel);
                }
                torchBefore.addAbs(v, n);
            } else {
                before += l1(v, n);
            }
        }

        final void apply(float[] v, int n, long offset) {
            mask(v, n, offset);
            if (scaled) {
                float f = factor;
                for (int e = 0; e < n; e++) {
                    v[e] = Codec.round(d, Codec.round(w, v[e] * f));
                }
            }
        }

        private static double l1(float[] v, int n) {
            double s = 0;
            for (int e = 0; e < n; e++) {
                s += Math.abs(v[e]);
            }
            return s;
        }
    }

    /** Magnitude (TIES) and magnitude outliers (breadcrumbs): cut-offs on the |δ| order. */
    private static final class Selection extends Sparsifier {
        private final MagnitudeSelector selector;
        private final boolean band;

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
                        addBefore(v, n);
                    }
                }
                case LOW -> selector.countLow(v, n);
                default -> super.measure(phase, v, n, offset);
            }
        }

        @Override
        void endPhase(Phase phase) {
            switch (phase) {
                case HIGH -> selector.endHigh();
                case LOW -> selector.endLow();
                default -> super.endPhase(phase);
            }
            selector.rewind();
        }

        @Override
        void mask(float[] v, int n, long offset) {
            for (int e = 0; e < n; e++) {
                int key = MagnitudeSelector.key(v[e]);
                boolean keep = selector.selected(0, key);
                if (band && selector.selected(1, key)) {
                    keep = false;
                }
                if (!keep) {
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
    private static final class Bernoulli extends Sparsifier {
        private final RandomWords rng;
        private final float p;

        Bernoulli(DType d, boolean rescale, RandomWords rng, double density, long numel) {
            super(randomDtype(d), d, rescale, numel);
            this.rng = rng;
            this.p = Codec.round(w, (float) density);
        }

        @Override
        void mask(float[] v, int n, long offset) {
            for (int e = 0; e < n; e++) {
                if (!RandomWords.keep(rng.word(offset + e), p)) {
                    v[e] *= 0f;
                }
            }
        }
    }

    /**
     * DELLA: within each row, the element of ascending |δ| rank {@code i} (ties: the lower index
     * ranks higher) is kept with probability p[i], computed as mergekit does in dtype W:
     * {@code r = R(R(i)+1)}, {@code rn = clamp(R(R(r-rmin)/R(rmax-rmin)), 0, 1)},
     * {@code p = R(R(R(rn·2)·eps) + R(density-eps))}; density 0 keeps nothing. One row at a
     * time is ranked by a stable LSD radix sort of its |δ| bit patterns, skipping the bytes no
     * key of the row varies in (two of four for bf16).
     */
    private static final class Della extends Sparsifier {
        private final RandomWords rng;
        private final int row;
        private final int[] words;
        private final float[] magnitudes;
        private final float[] p;
        private int[] keys;
        private int[] idx;
        private int[] keys2;
        private int[] idx2;
        private final int[] count = new int[256];

        Della(DType d, boolean rescale, RandomWords rng, double density, double epsilon, int row, long numel) {
            super(randomDtype(d), d, rescale, numel);
            this.rng = rng;
            this.row = row;
            this.words = new int[row];
            this.magnitudes = Randomness.MERGEKIT.isBound() ? new float[row] : null;
            this.p = new float[row];
            this.keys = new int[row];
            this.idx = new int[row];
            this.keys2 = new int[row];
            this.idx2 = new int[row];
            if (density <= 0 || row == 1) {
                Arrays.fill(p, density <= 0 ? 0f : Codec.round(w, (float) density));
                return;
            }
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

        @Override
        void mask(float[] v, int n, long offset) {
            for (int start = 0; start < n; start += row) {
                if (rng == null) {
                    for (int j = 0; j < row; j++) {
                        v[start + j] *= 0f;
                    }
                    continue;
                }
                for (int j = 0; j < row; j++) {
                    words[j] = rng.word(offset + start + j);
                }
                rank(v, start);
                for (int i = 0; i < row; i++) {
                    int j = idx[i];
                    if (!RandomWords.keep(words[j], p[i])) {
                        v[start + j] *= 0f;
                    }
                }
            }
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
