package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * Test support: whole-array reference implementations of sce, ram, ramplus_tl, model_stock,
 * nearswap and arcee_fusion written straight from merge-methods §3.8–3.12, with full sorts
 * where the streaming classes select by histogram. Every tensor op is rounded to D as §2 says.
 */
final class OtherMethodsReference {

    private OtherMethodsReference() {
    }

    private static float r(DType d, float x) {
        return Codec.round(d, x);
    }

    static float[] nearswap(DType d, float[] base, float[] other, double t) {
        float[] out = new float[base.length];
        for (int i = 0; i < out.length; i++) {
            float dist = Math.max(r(d, Math.abs(r(d, base[i] - other[i]))), r(d, (float) 1e-6));
            float w = Math.clamp(r(d, r(d, 1f / dist) * (float) t), 0f, 1f);
            out[i] = r(d, r(d, w * other[i]) + r(d, r(d, 1f - w) * base[i]));
        }
        return out;
    }

    /** RAM (plus = false) or RAM+ tensor-local (plus = true, float32 result). */
    static float[] ram(DType d, float[] base, float[][] models, boolean plus, double rr, double alpha, double eps) {
        int n = base.length;
        int m = models.length;
        float[][] tau = new float[m][n];
        boolean[][] active = new boolean[m][n];
        int[] cnt = new int[n];
        for (int j = 0; j < m; j++) {
            for (int i = 0; i < n; i++) {
                tau[j][i] = r(d, models[j][i] - base[i]);
                active[j][i] = Math.abs(tau[j][i]) > r(d, (float) eps);
                cnt[i] += active[j][i] ? 1 : 0;
            }
        }
        float[] lambda = new float[m];
        for (int j = 0; j < m; j++) {
            long shared = 0;
            long unique = 0;
            for (int i = 0; i < n; i++) {
                shared += active[j][i] && cnt[i] > 1 ? 1 : 0;
                unique += active[j][i] && cnt[i] == 1 ? 1 : 0;
            }
            float rho = shared == 0 ? 0f : shared / Math.max((float) unique, (float) eps);
            lambda[j] = 1f + (float) rr * Math.min(Math.max(rho, 0f), (float) alpha);
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            float sum = 0f;
            for (int j = 0; j < m; j++) {
                float z = active[j][i] ? tau[j][i] : tau[j][i] * 0f;
                float uniq = cnt[i] == 1 ? z : z * 0f;
                float shared = r(d, (cnt[i] > 1 ? z : z * 0f) / Math.max(1, cnt[i]));
                float part = plus ? uniq * lambda[j] + shared : r(d, uniq + shared);
                sum = j == 0 ? part : sum + part;
            }
            out[i] = plus ? base[i] + sum : r(d, base[i] + r(d, sum));
        }
        return out;
    }

    /** The per-element population variance of the task vectors, rounded to D. */
    static float[] variance(DType d, float[] base, float[][] models) {
        float[] var = new float[base.length];
        for (int i = 0; i < var.length; i++) {
            double mean = 0;
            for (float[] x : models) {
                mean += r(d, x[i] - base[i]);
            }
            mean /= models.length;
            double ss = 0;
            for (float[] x : models) {
                double c = r(d, x[i] - base[i]) - mean;
                ss += c * c;
            }
            var[i] = r(d, (float) (ss / models.length));
        }
        return var;
    }

    /** sce's k for a variance array. */
    static long sceK(float[] var, double topk) {
        long nz = IntStream.range(0, var.length).filter(i -> var[i] != 0f).count();
        return (long) ((float) nz * (float) topk);
    }

    /** The top-k elements by variance, by a full sort: larger first, the lower index on ties. */
    static boolean[] sceSelection(float[] var, long k) {
        Integer[] order = IntStream.range(0, var.length).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -Math.abs(var[i])).thenComparingInt(i -> i));
        boolean[] sel = new boolean[var.length];
        for (int i = 0; i < k; i++) {
            sel[order[i]] = true;
        }
        return sel;
    }

    /** SCE; {@code selection} null means no selection step (select_topk = 1). */
    static float[] sce(DType d, float[] base, float[][] models, boolean[] selection) {
        int n = base.length;
        int m = models.length;
        float[][] tau = new float[m][n];
        double[] sq = new double[m];
        for (int j = 0; j < m; j++) {
            for (int i = 0; i < n; i++) {
                tau[j][i] = r(d, models[j][i] - base[i]);
                if (selection != null) {
                    tau[j][i] = tau[j][i] * (selection[i] ? 1f : 0f);
                }
                sq[j] += r(d, tau[j][i] * tau[j][i]);
            }
        }
        float[] w = new float[m];
        float s = 0f;
        for (int j = 0; j < m; j++) {
            w[j] = r(d, (float) sq[j] / n);
            s = j == 0 ? w[j] : s + w[j];
        }
        s = r(d, s);
        for (int j = 0; j < m; j++) {
            w[j] = Math.abs(s) < 1e-6 ? r(d, 1f / m) : r(d, w[j] / s);
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            float total = 0f;
            for (int j = 0; j < m; j++) {
                total += tau[j][i];
            }
            float sign = r(d, total) >= 0 ? 1f : -1f;
            float merged = 0f;
            float den = 0f;
            for (int j = 0; j < m; j++) {
                float ew = Math.signum(tau[j][i]) == sign ? w[j] : 0f;
                merged = j == 0 ? r(d, tau[j][i] * ew) : merged + r(d, tau[j][i] * ew);
                den = j == 0 ? ew : den + ew;
            }
            out[i] = r(d, base[i] + r(d, r(d, merged) / Math.max(r(d, den), r(d, (float) 1e-6))));
        }
        return out;
    }

    /** Model Stock over rows of length {@code row} ({@code base.length} for the flat form). */
    static float[] modelStock(DType d, float[] base, float[][] models, int row) {
        int n = base.length;
        int m = models.length;
        float[] out = new float[n];
        for (int start = 0; start < n; start += row) {
            double[] norm2 = new double[m];
            for (int j = 0; j < m; j++) {
                for (int i = start; i < start + row; i++) {
                    float o = r(d, models[j][i] - base[i]);
                    norm2[j] += (double) o * o;
                }
            }
            double cosSum = 0;
            for (int a = 0; a < m; a++) {
                for (int b = a + 1; b < m; b++) {
                    double dot = 0;
                    for (int i = start; i < start + row; i++) {
                        dot += r(d, r(d, models[a][i] - base[i]) * r(d, models[b][i] - base[i]));
                    }
                    float np = r(d, r(d, (float) Math.sqrt(norm2[a])) * r(d, (float) Math.sqrt(norm2[b])));
                    cosSum += Math.clamp(r(d, r(d, (float) dot) / Math.max(np, r(d, (float) 1e-6))), -1f, 1f);
                }
            }
            float c = r(d, (float) cosSum / (m * (m - 1) / 2));
            float t = r(d, r(d, m * c) / r(d, 1f + r(d, (m - 1) * c)));
            for (int i = start; i < start + row; i++) {
                float sum = 0f;
                for (float[] x : models) {
                    sum = r(d, sum + x[i]);
                }
                out[i] = r(d, r(d, t * r(d, sum / m)) + r(d, r(d, 1f - t) * base[i]));
            }
        }
        return out;
    }

    /** Arcee Fusion's importance scores, rows of length {@code row}. */
    static float[] importance(DType d, float[] base, float[] other, int row) {
        int n = base.length;
        float[] imp = new float[n];
        for (int start = 0; start < n; start += row) {
            float[] p = softmax(d, other, start, row);
            float[] q = softmax(d, base, start, row);
            double kl = 0;
            for (int i = 0; i < row; i++) {
                kl += r(d, p[i] * r(d, (float) Math.log(r(d, p[i] / q[i]))));
            }
            for (int i = 0; i < row; i++) {
                imp[start + i] = r(d, Math.abs(r(d, other[start + i] - base[start + i])) * r(d, (float) kl));
            }
        }
        return imp;
    }

    /** Softmax as torch's AVX-512 CPU kernel sums it: 16 lanes, XOR-paired lane reduction, tail. */
    private static float[] softmax(DType d, float[] x, int start, int len) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < len; i++) {
            max = Math.max(max, x[start + i]);
        }
        float[] e = new float[len];
        float[] lanes = new float[16];
        int full = len / 16 * 16;
        for (int i = 0; i < len; i++) {
            e[i] = (float) Math.exp(x[start + i] - max);
            if (i < full) {
                lanes[i % 16] += e[i];
            }
        }
        for (int w = 8; w > 0; w /= 2) {
            float[] next = new float[16];
            for (int j = 0; j < 16; j++) {
                next[j] = lanes[j] + lanes[j ^ w];
            }
            lanes = next;
        }
        float sum = lanes[0];
        for (int i = full; i < len; i++) {
            sum += e[i];
        }
        float inv = 1f / sum;
        for (int i = 0; i < len; i++) {
            e[i] = r(d, r(d, e[i] * inv) + r(d, (float) 1e-8));
        }
        return e;
    }

    /** The value at quantile {@code q} of the sorted sample, by mergekit's index rule. */
    static float quantile(float[] sortedSample, float q) {
        return sortedSample[(int) (q * (float) (sortedSample.length - 1))];
    }

    static float threshold(DType d, float[] medianSample, float[] quartileSample) {
        float[] a = medianSample.clone();
        float[] b = quartileSample.clone();
        Arrays.sort(a);
        Arrays.sort(b);
        float iqr = r(d, quantile(b, 0.75f) - quantile(b, 0.25f));
        return r(d, quantile(a, 0.5f) + r(d, 1.5f * iqr));
    }

    /** The scores of the {@code size} elements with the largest 30-bit keyed words (ties: lower index). */
    static float[] sample(float[] imp, KeyedRandom rng, int size) {
        long[] order = new long[imp.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = (long) (0x3FFFFFFF - (rng.word(i) >>> 2)) << 32 | i;
        }
        Arrays.sort(order);
        float[] s = new float[size];
        for (int i = 0; i < size; i++) {
            s[i] = imp[(int) order[i]];
        }
        return s;
    }

    static float[] fuse(float[] base, float[] other, float[] imp, float thr, DType d) {
        float[] out = new float[base.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = base[i] + r(d, other[i] - base[i]) * (imp[i] >= thr ? 1f : 0f);
        }
        return out;
    }
}
