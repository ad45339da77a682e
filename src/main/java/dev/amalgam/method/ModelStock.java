package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;

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
 * dimension; a 1-D tensor is one row) accumulate in double and are rounded once.
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
        /** ‖o_i‖² in [i][i], o_i·o_j (products rounded to D) in [i][j], i &lt; j. */
        private final double[][] gram;
        private float[][] offsets = new float[0][0];
        private float t;

        Merge(MergeContext ctx) {
            this.d = ctx.workDtype();
            this.base = ctx.baseIndex();
            this.models = Operands.others(ctx.operands(), base);
            this.rowWise = ctx.flag("filter_wise");
            this.row = Math.toIntExact(Math.max(1, ctx.rowLength()));
            this.gram = new double[models.length][models.length];
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
            accumulate(in, 0, n);
        }

        @Override
        public void endPass(int pass) {
            t = ratio();
        }

        /** Adds elements [from, to) of the task vectors to the Gram matrix. */
        private void accumulate(float[][] in, int from, int to) {
            int m = models.length;
            int n = to - from;
            if (offsets.length == 0 || offsets[0].length < n) {
                offsets = new float[m][n];
            }
            float[] b = in[base];
            for (int i = 0; i < m; i++) {
                float[] x = in[models[i]];
                float[] o = offsets[i];
                double sq = 0;
                for (int e = 0; e < n; e++) {
                    o[e] = Codec.round(d, x[from + e] - b[from + e]);
                    sq += (double) o[e] * o[e];
                }
                gram[i][i] += sq;
                for (int j = 0; j < i; j++) {
                    float[] p = offsets[j];
                    double dot = 0;
                    for (int e = 0; e < n; e++) {
                        dot += Codec.round(d, p[e] * o[e]);
                    }
                    gram[j][i] += dot;
                }
            }
        }

        /** t from the accumulated Gram matrix. */
        private float ratio() {
            int m = models.length;
            float[] norm = new float[m];
            for (int i = 0; i < m; i++) {
                norm[i] = Operands.reduced(d, Math.sqrt(gram[i][i]));
            }
            float floor = Operands.scalar(d, EPS);
            double sum = 0;
            int pairs = 0;
            for (int i = 0; i < m; i++) {
                for (int j = i + 1; j < m; j++) {
                    float den = Math.max(Codec.round(d, norm[i] * norm[j]), floor);
                    float c = Codec.round(d, Operands.reduced(d, gram[i][j]) / den);
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
                for (double[] g : gram) {
                    Arrays.fill(g, 0);
                }
                int end = Math.min(n, start + row);
                accumulate(in, start, end);
                blend(in, start, end, out, ratio());
            }
        }

        private void blend(float[][] in, int from, int to, float[] out, float ratio) {
            float[] w0 = in[base];
            int m = models.length;
            float keep = Codec.round(d, 1f - ratio);
            for (int e = from; e < to; e++) {
                float acc = 0f;
                for (int model : models) {
                    acc = Codec.round(d, acc + in[model][e]);
                }
                float avg = Codec.round(d, acc / m);
                out[e] = Codec.round(d, Codec.round(d, ratio * avg) + Codec.round(d, keep * w0[e]));
            }
        }
    }
}
