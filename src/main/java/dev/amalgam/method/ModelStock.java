package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;
import dev.amalgam.kernel.Kernels;

import java.util.Arrays;
import java.util.List;

/**
 * Model Stock: interpolates between the base and the plain average of the fine-tunes, with a
 * ratio taken from the angle between their task vectors. Method stage; one measuring pass (the
 * Gram matrix of the task vectors) then the applying pass, or with {@code filter_wise} one pass
 * over whole rows, each row with its own ratio.
 *
 * <pre>
 *   o_i  = R(w_i - w_0)                       (w_0 the base, w_1..w_N the others, recipe order)
 *   c_ij = clamp(R(R(Σ R(o_i·o_j)) / max(R(‖o_i‖·‖o_j‖), R(1e-6))), -1, 1)       for i &lt; j
 *   c    = R(mean of the c_ij)                       (the paper is silent for N &gt; 2)
 *   t    = R(R(N·c) / R(1 + R((N-1)·c)))
 *   avg  = R(R(…R(0 + w_1) + w_2…) / N)              (Python's sum, then a division)
 *   out  = R(R(t·avg) + R(R(1 - t)·w_0))
 * </pre>
 * Sums and norms over the tensor (or, with {@code filter_wise}, over each row along the last
 * dimension; a 1-D tensor is one row) accumulate in eight interleaved double sums, element k
 * of the tensor (of the row) in sum {@code k & 7}, added in a fixed order and rounded once: the
 * result depends on element indices only, never on chunking or vector width.
 * Paper: https://arxiv.org/abs/2403.19522.
 *
 * <p>Deviation: a recipe with fewer than two models besides the base is refused at plan time.
 * mergekit fails such a tensor too, except an optional one (lm_head) present in fewer than
 * three models, which it silently drops from the output; here the planner gives a tensor every
 * model's input (a missing lm_head falls back to the tied embeddings) or plans no tensor at all,
 * so nothing is dropped by the method.
 */
public final class ModelStock implements MergeMethod {

    static final double EPS = 1e-6;

    /** Elements per block of the measuring pass. */
    private static final int BLOCK = 2048;

    @Override
    public String name() {
        return "model_stock";
    }

    @Override
    public String prettyName() {
        return "Model Stock";
    }

    @Override
    public String referenceUrl() {
        return "https://arxiv.org/abs/2403.19522";
    }

    @Override
    public List<ParamSpec> globalParameters() {
        return List.of(ParamSpec.flag("filter_wise", false));
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
    public String checkOperands(int operands, int baseIndex) {
        if (baseIndex < 0) {
            return "model_stock measures task vectors from the base model, which lacks this tensor";
        }
        return operands >= 3 ? null
                : "model_stock needs the base model and at least two other models, got " + (operands - 1) + " other";
    }

    @Override
    public String operandHint() {
        return "list at least two fine-tuned models besides the base_model";
    }

    @Override
    public TensorMerge prepare(MergeContext ctx) {
        return new Merge(ctx);
    }

    private static final class Merge implements TensorMerge {
        private final DType d;
        private final int base;
        private final int[] models;
        private final boolean rowWise;
        private final int row;
        /** Eight interleaved sums each: ‖o_i‖² in [i][i], o_i·o_j (products rounded to D) in [i][j], i &lt; j. */
        private final double[][][] gram;
        /** The task vectors o_i of one block, small enough to stay in the L1 cache. */
        private final float[][] offsets;
        /** The rounded products of two of them (only their sum is kept). */
        private final float[] products = new float[BLOCK];
        private float t;

        Merge(MergeContext ctx) {
            this.d = ctx.workDtype();
            this.base = ctx.baseIndex();
            this.models = Operands.others(ctx.operands(), base);
            this.rowWise = ctx.flag("filter_wise");
            this.row = Math.toIntExact(Math.max(1, ctx.rowLength()));
            this.gram = new double[models.length][models.length][8];
            this.offsets = new float[models.length][BLOCK];
        }

        @Override
        public boolean rowAligned() {
            return rowWise;
        }

        @Override
        public int measuringPasses() {
            return rowWise ? 0 : 1;
        }

        @Override
        public void measure(int pass, float[][] in, int n, long offset) {
            accumulate(in, 0, n, offset);
        }

        @Override
        public void endPass(int pass) {
            t = ratio();
        }

        /**
         * Adds elements [from, to) of the task vectors o_i = R(w_i - w_0) to the Gram matrix,
         * element from+e to the sums' {@code (key + e) & 7}, one block at a time.
         */
        private void accumulate(float[][] in, int from, int to, long key) {
            int m = models.length;
            float[] w0 = in[base];
            for (int start = from; start < to; start += BLOCK) {
                int len = Math.min(BLOCK, to - start);
                long k = key + (start - from);
                for (int i = 0; i < m; i++) {
                    float[] o = offsets[i];
                    Kernels.taskVectorSquares(d, in[models[i]], w0, start, len, k, o, gram[i][i]);
                    for (int j = 0; j < i; j++) {
                        Kernels.sumRoundedProducts(d, offsets[j], o, len, k, products, gram[j][i]);
                    }
                }
            }
        }

        /** t from the accumulated Gram matrix. */
        private float ratio() {
            int m = models.length;
            float[] norm = new float[m];
            for (int i = 0; i < m; i++) {
                norm[i] = Operands.reduced(d, Math.sqrt(Kernels.total(gram[i][i])));
            }
            float floor = Operands.scalar(d, EPS);
            double sum = 0;
            int pairs = 0;
            for (int i = 0; i < m; i++) {
                for (int j = i + 1; j < m; j++) {
                    float den = Math.max(Codec.round(d, norm[i] * norm[j]), floor);
                    float c = Codec.round(d, Operands.reduced(d, Kernels.total(gram[i][j])) / den);
                    sum += Math.min(Math.max(c, -1f), 1f);
                    pairs++;
                }
            }
            float c = Codec.round(d, (float) sum / pairs);
            float num = Codec.round(d, c * m);
            return Codec.round(d, num / Codec.round(d, 1f + Codec.round(d, c * (m - 1))));
        }

        @Override
        public void apply(float[][] in, int n, long offset, float[] out) {
            if (!rowWise) {
                blend(in, 0, n, out, t);
                return;
            }
            for (int start = 0; start < n; start += row) {
                for (double[][] g : gram) {
                    for (double[] sums : g) {
                        Arrays.fill(sums, 0);
                    }
                }
                int end = Math.min(n, start + row);
                accumulate(in, start, end, 0);
                blend(in, start, end, out, ratio());
            }
        }

        private void blend(float[][] in, int from, int to, float[] out, float ratio) {
            Kernels.stockBlend(d, in, models, in[base], ratio, Codec.round(d, 1f - ratio), from, to, out);
        }
    }
}
