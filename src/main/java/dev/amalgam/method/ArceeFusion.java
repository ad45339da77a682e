package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;

import java.util.List;

/**
 * Arcee Fusion: takes the other model's value only where its change from the base is important,
 * importance being the size of the change times how much the row's softmax distribution moved.
 * Method stage; two measuring passes (histograms of the importance scores for their quantiles,
 * four when the tensor is sampled), then the applying pass. Chunks hold whole rows.
 *
 * <pre>
 *   δ    = R(p1 - p0)                           (p0 the base, p1 the other model)
 *   P    = R(softmax(p1) + R(1e-8)),  Q = R(softmax(p0) + R(1e-8))     along the last dimension
 *   kl   = R(Σ_row R(P · R(log(R(P / Q)))))     one value per row (a 1-D tensor is one row)
 *   imp  = R(|δ| · kl)
 *   q(x) = the value at index int(F32(x) · F32(m - 1)) of the m sorted scores
 *   thr  = R(q(0.5) + R(1.5 · R(q(0.75) - q(0.25))))
 *   out  = p0 + δ · [imp ≥ thr]                 (float32, not rounded to D)
 * </pre>
 * Softmax follows torch's CPU kernel: {@code exp(x - max)} in float32, the row sum in float32
 * in the order of its AVX-512 build (16 lanes, combined pairwise, then the tail), a multiply by
 * the float32 reciprocal of the sum, rounded to D. That order is deliberate: the importance
 * scores are so quantised in D that a last-bit change of the sum moves whole rows across the
 * threshold (summed in double, 33 of the golden set's 207424 elements flipped; in this order
 * none). On AVX2 builds torch sums in 8 lanes, and elements on the threshold may differ. The KL
 * row sums accumulate in double. The quantiles are exact order statistics found by histogram
 * selection ({@link OrderStatistics}), not a sort. Reference: https://arcee.ai.
 *
 * <p>The result is float32, as mergekit returns it, so without {@code out_dtype} the tensors are
 * written as F32 whatever the working dtype ({@link #resultDtype}); this reproduces mergekit.
 *
 * <p>Deviation: for tensors of more than 10^6 elements mergekit takes the quantiles over a
 * random sample of 10^6 scores ({@code randperm}, two independent samples: one for the median,
 * one for the quartiles). Here each sample is the 10^6 elements with the largest words of a
 * {@link KeyedRandom} stream keyed by (seed, tensor name, sample), also a uniform sample without
 * replacement, so the same seed gives the same model whatever the threads or chunk size; the
 * samples, and so the thresholds, are not mergekit's.
 *
 * <p>Deviation: exp and log are Java's (correctly rounded to float32 in nearly every case);
 * torch's SLEEF versions may differ in the last float32 bit, which rarely survives rounding to
 * D but can move an element sitting exactly on the threshold across it.
 */
public final class ArceeFusion implements MergeMethod {

    static final long SAMPLE = 1_000_000;
    static final int LANES = 16;

    @Override
    public String name() {
        return "arcee_fusion";
    }

    @Override
    public String prettyName() {
        return "Arcee Fusion";
    }

    @Override
    public String referenceUrl() {
        return "https://arcee.ai";
    }

    @Override
    public List<ParamSpec> globalParameters() {
        return List.of();
    }

    @Override
    public List<ParamSpec> perModelParameters() {
        return List.of();
    }

    @Override
    public BaseRule baseRule() {
        return BaseRule.REQUIRED;
    }

    @Override
    public DType resultDtype(DType work) {
        return work == DType.F64 ? work : DType.F32;
    }

    @Override
    public String checkOperands(int operands, int baseIndex) {
        if (baseIndex < 0) {
            return "arcee_fusion needs the base model's tensor, which is missing";
        }
        return operands == 2 ? null
                : "arcee_fusion merges exactly two models, the base and one other, got " + operands;
    }

    @Override
    public String operandHint() {
        return "list the base_model and exactly one other model";
    }

    @Override
    public TensorMerge prepare(MergeContext ctx) {
        return new Merge(ctx, SAMPLE);
    }

    /** The streaming computation; {@code sample} is the sample size above which scores are sampled. */
    static final class Merge implements TensorMerge {
        private final DType d;
        private final int base;
        private final int other;
        private final int row;
        private final float eps;
        private final boolean sampled;
        private final OrderStatistics median;
        private final OrderStatistics quartiles;
        private final KeyedRandom[] streams;
        private final MagnitudeSelector[] samples;
        private final float[] p;
        private final float[] q;
        private float[] imp = new float[0];
        private float[] words = new float[0];
        private float threshold;

        Merge(MergeContext ctx, long sample) {
            this.d = ctx.workDtype();
            this.base = ctx.baseIndex();
            this.other = 1 - base;
            this.row = Math.toIntExact(Math.max(1, ctx.rowLength()));
            this.eps = Operands.scalar(d, 1e-8);
            long numel = ctx.numel();
            this.sampled = numel > sample;
            long m = sampled ? sample : numel;
            this.median = new OrderStatistics(index(0.5f, m));
            this.quartiles = new OrderStatistics(index(0.25f, m), index(0.75f, m));
            this.streams = sampled ? new KeyedRandom[]{new KeyedRandom(ctx.seed(), ctx.tensorName(), 0),
                    new KeyedRandom(ctx.seed(), ctx.tensorName(), 1)} : new KeyedRandom[0];
            this.samples = sampled ? new MagnitudeSelector[]{new MagnitudeSelector(numel, sample),
                    new MagnitudeSelector(numel, sample)} : new MagnitudeSelector[0];
            this.p = new float[row];
            this.q = new float[row];
        }

        /** int(F32(x) · F32(m - 1)), torch's quantile index. */
        private static long index(float x, long m) {
            return (long) (x * (float) (m - 1));
        }

        @Override
        public boolean rowAligned() {
            return true;
        }

        @Override
        public int measuringPasses() {
            return sampled ? 4 : 2;
        }

        @Override
        public void measure(int pass, float[][] in, int n, long offset) {
            int phase = sampled ? pass : pass + 2;
            if (phase < 2) {
                for (int s = 0; s < samples.length; s++) {
                    fillWords(streams[s], n, offset);
                    if (phase == 0) {
                        samples[s].countHigh(words, n);
                    } else {
                        samples[s].countLow(words, n);
                    }
                }
                return;
            }
            importance(in, n);
            boolean high = phase == 2;
            if (!sampled) {
                for (int e = 0; e < n; e++) {
                    count(median, imp[e], high);
                    count(quartiles, imp[e], high);
                }
                return;
            }
            for (int e = 0; e < n; e++) {
                long i = offset + e;
                if (samples[0].selected(0, word(streams[0], i))) {
                    count(median, imp[e], high);
                }
                if (samples[1].selected(0, word(streams[1], i))) {
                    count(quartiles, imp[e], high);
                }
            }
        }

        private static void count(OrderStatistics s, float x, boolean high) {
            if (high) {
                s.countHigh(x);
            } else {
                s.countLow(x);
            }
        }

        /** An element's sampling key: 30 random bits, a positive finite float's bit pattern. */
        private static int word(KeyedRandom r, long index) {
            return r.word(index) >>> 2;
        }

        private void fillWords(KeyedRandom r, int n, long offset) {
            if (words.length < n) {
                words = new float[n];
            }
            for (int e = 0; e < n; e++) {
                words[e] = Float.intBitsToFloat(word(r, offset + e));
            }
        }

        @Override
        public void endPass(int pass) {
            int phase = sampled ? pass : pass + 2;
            switch (phase) {
                case 0 -> {
                    for (MagnitudeSelector s : samples) {
                        s.endHigh();
                    }
                }
                case 1 -> {
                    for (MagnitudeSelector s : samples) {
                        s.endLow();
                    }
                }
                case 2 -> {
                    median.endHigh();
                    quartiles.endHigh();
                }
                default -> {
                    median.endLow();
                    quartiles.endLow();
                    float iqr = Codec.round(d, quartiles.value(1) - quartiles.value(0));
                    threshold = Codec.round(d, median.value(0) + Codec.round(d, 1.5f * iqr));
                }
            }
            for (MagnitudeSelector s : samples) {
                s.rewind();
            }
        }

        /** Fills {@code imp} with the importance scores of the whole rows in the chunk. */
        private void importance(float[][] in, int n) {
            if (imp.length < n) {
                imp = new float[n];
            }
            float[] a = in[base];
            float[] b = in[other];
            for (int start = 0; start < n; start += row) {
                int len = Math.min(row, n - start);
                softmax(b, start, len, p);
                softmax(a, start, len, q);
                double kl = 0;
                for (int e = 0; e < len; e++) {
                    float ratio = Codec.round(d, p[e] / q[e]);
                    kl += Codec.round(d, p[e] * Codec.round(d, (float) Math.log(ratio)));
                }
                float k = Operands.reduced(d, kl);
                for (int e = start; e < start + len; e++) {
                    imp[e] = Codec.round(d, Math.abs(Codec.round(d, b[e] - a[e])) * k);
                }
            }
        }

        /** dst[0..len) = R(softmax(x[start..start+len)) + R(1e-8)). */
        private void softmax(float[] x, int start, int len, float[] dst) {
            float max = Float.NEGATIVE_INFINITY;
            for (int e = 0; e < len; e++) {
                max = Math.max(max, x[start + e]);
            }
            for (int e = 0; e < len; e++) {
                dst[e] = (float) Math.exp(x[start + e] - max);
            }
            float inv = 1f / laneSum(dst, len);
            for (int e = 0; e < len; e++) {
                dst[e] = Codec.round(d, Codec.round(d, dst[e] * inv) + eps);
            }
        }

        /**
         * {@code v[0..len)} summed in float32 as torch's CPU softmax does on AVX-512: 16 lane
         * accumulators over the full blocks, lanes combined pairwise (lane j with j+8, then +4,
         * +2, +1), then the tail added in order.
         */
        static float laneSum(float[] v, int len) {
            float[] acc = new float[LANES];
            int full = len - len % LANES;
            for (int i = 0; i < full; i += LANES) {
                for (int j = 0; j < LANES; j++) {
                    acc[j] += v[i + j];
                }
            }
            for (int w = LANES / 2; w > 0; w /= 2) {
                for (int j = 0; j < w; j++) {
                    acc[j] += acc[j + w];
                }
            }
            float sum = acc[0];
            for (int i = full; i < len; i++) {
                sum += v[i];
            }
            return sum;
        }

        @Override
        public void apply(float[][] in, int n, long offset, float[] out) {
            importance(in, n);
            float[] a = in[base];
            float[] b = in[other];
            float thr = threshold;
            for (int e = 0; e < n; e++) {
                out[e] = a[e] + Codec.round(d, b[e] - a[e]) * (imp[e] >= thr ? 1f : 0f);
            }
        }
    }
}
