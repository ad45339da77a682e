package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;
import static org.assertj.core.api.Assertions.withinPercentage;

/**
 * nuslerp, multislerp and karcher on small arrays: colinear, antiparallel and zero vectors,
 * the float16 guards, the row and column modes against per-vector runs, task vectors against
 * their explicit form, chunk-size independence (1, 7, 65536), torch's float32 norm order, and
 * operand and parameter validation.
 */
class SphericalMethodsTest {

    private static final int[] CHUNKS = {1, 7, 1 << 16};

    /** A context with the planner's defaults filled in; operand {@code base} (or -1) is the base. */
    private static MergeContext ctx(MergeMethod m, long[] shape, DType d, int base, Map<String, Double> globals,
                                    double... weights) {
        Map<String, Double> g = new HashMap<>();
        m.globalParameters().forEach(p -> g.put(p.name(), p.defaultValue()));
        g.putAll(globals);
        List<Map<String, Double>> per = new ArrayList<>();
        for (int i = 0; i < weights.length; i++) {
            per.add(i == base || m.perModelParameters().isEmpty() ? Map.of() : Map.of("weight", weights[i]));
        }
        return new MergeContext("model.layers.0.mlp.up_proj.weight", shape, d, base, g, per, 0);
    }

    /** Runs with every chunk size, checks they agree bit for bit, and returns the result. */
    private static float[] run(MergeMethod m, MergeContext ctx, float[]... ops) {
        assertThat(m.checkOperands(ctx.operands(), ctx.baseIndex())).isNull();
        assertThat(m.checkParameters(ctx)).isNull();
        float[] first = null;
        for (int chunk : CHUNKS) {
            float[] out = Drive.run(m.prepare(ctx), ops, chunk, ctx.rowLength());
            if (first == null) {
                first = out;
            } else {
                assertThat(out).as("chunk " + chunk).isEqualTo(first);
            }
        }
        return first;
    }

    private static float[] gaussian(DType d, int n, double scale, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = Codec.round(d, (float) (r.nextGaussian() * scale));
        }
        return v;
    }

    private static float[] scaled(DType d, float[] v, float s) {
        float[] o = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            o[i] = Codec.round(d, v[i] * s);
        }
        return o;
    }

    private static float r(DType d, float x) {
        return Codec.round(d, x);
    }

    private static void assertFinite(float[] v) {
        for (float x : v) {
            assertThat(Float.isFinite(x)).as("finite").isTrue();
        }
    }

    // ------------------------------------------------------------------------------------ nuslerp

    /** Parallel vectors whose unit vectors are exact: cos θ = 1, sin θ = 0, so both lerp. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "BF16", "F32"})
    void nuslerpOfParallelVectorsIsLinear(DType d) {
        NuSlerp m = new NuSlerp();
        float[] a = new float[16];
        for (int i = 0; i < 16; i++) {
            a[i] = r(d, i % 3 == 0 ? -0.025f : 0.025f);
        }
        float[] b = scaled(d, a, 3f);
        float[] out = run(m, ctx(m, new long[]{16}, d, -1, Map.of(), 0.6, 0.4), a, b);
        for (int i = 0; i < a.length; i++) {
            assertThat(out[i]).isEqualTo(r(d, r(d, (float) (1 - 0.4) * a[i]) + r(d, 0.4f * b[i])));
        }
    }

    @Test
    void nuslerpFallsBackToLinearForFloat16RowsWhoseCosineRoundsToOne() {
        NuSlerp m = new NuSlerp();
        DType d = DType.F16;
        float[] a = new float[64];
        float[] b = new float[64];
        for (int i = 0; i < 64; i++) {
            a[i] = r(d, 1f + i / 256f);
            b[i] = r(d, a[i] + (i % 7 == 0 ? 0.0009765625f : 0f));
        }
        MergeContext c = ctx(m, new long[]{64}, d, -1, Map.of(), 0.6, 0.4);
        float[] out = run(m, c, a, b);
        assertFinite(out);
        for (int i = 0; i < a.length; i++) {
            assertThat(out[i]).isEqualTo(r(d, r(d, 0.6f * a[i]) + r(d, 0.4f * b[i])));
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "BF16", "F32"})
    void nuslerpOfAntiparallelAndZeroVectorsFollowsTheFormula(DType d) {
        NuSlerp m = new NuSlerp();
        float[] a = gaussian(d, 24, 0.05, 12);
        float[] anti = scaled(d, a, -1f);
        float[] zero = new float[24];
        double t = 0.3;
        for (float[] b : List.of(anti, zero)) {
            float[] out = run(m, ctx(m, new long[]{24}, d, -1, Map.of(), 0.7, 0.3), b, a);
            assertFinite(out);
            Spherical.SquareSum n0 = Spherical.SquareSum.of(d, a.length);
            Spherical.SquareSum n1 = Spherical.SquareSum.of(d, a.length);
            for (int i = 0; i < a.length; i++) {
                n0.add(i, b[i]);
                n1.add(i, a[i]);
            }
            float eps = r(d, 1e-7f);
            float norm0 = Math.max(r(d, n0.norm()), eps);
            float norm1 = Math.max(r(d, n1.norm()), eps);
            double dot = 0;
            for (int i = 0; i < a.length; i++) {
                dot += r(d, r(d, b[i] / norm0) * r(d, a[i] / norm1));
            }
            float theta = r(d, (float) Math.acos(Math.clamp(r(d, (float) dot), -1f, 1f)));
            float s = r(d, (float) Math.sin(theta));
            float ca = r(d, (float) Math.sin(r(d, (float) (1 - t) * theta)));
            float cb = r(d, (float) Math.sin(r(d, (float) t * theta)));
            for (int i = 0; i < a.length; i++) {
                assertThat(out[i]).isEqualTo(r(d, r(d, r(d, ca * b[i]) + r(d, cb * a[i])) / s));
            }
        }
    }

    @Test
    void nuslerpWeightsSummingToZeroInterpolateHalfway() {
        NuSlerp m = new NuSlerp();
        DType d = DType.BF16;
        float[] a = gaussian(d, 30, 0.02, 13);
        float[] b = gaussian(d, 30, 0.02, 14);
        float[] zeroSum = run(m, ctx(m, new long[]{30}, d, -1, Map.of(), -0.5, 0.5), a, b);
        float[] half = run(m, ctx(m, new long[]{30}, d, -1, Map.of(), 1, 1), a, b);
        assertThat(zeroSum).isEqualTo(half);
    }

    /**
     * Row mode equals flatten mode run on every row alone; so does column mode on every column
     * (in float32 only up to the last bit: per-column norms accumulate in double, a single
     * vector's in torch's lane order).
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "BF16", "F32"})
    void nuslerpRowAndColumnModesMergeEachVectorAlone(DType d) {
        NuSlerp m = new NuSlerp();
        long[] shape = {5, 3, 4};
        float[] a = gaussian(d, 60, 0.02, 15);
        float[] b = gaussian(d, 60, 0.03, 16);
        float[] rows = run(m, ctx(m, shape, d, -1, Map.of("nuslerp_flatten", 0.0), 0.6, 0.4), a, b);
        float[] cols = run(m, ctx(m, shape, d, -1, Map.of("nuslerp_flatten", 0.0, "nuslerp_row_wise", 1.0),
                0.6, 0.4), a, b);
        for (int v = 0; v < 15; v++) {
            int[] rowIdx = new int[4];
            for (int j = 0; j < 4; j++) {
                rowIdx[j] = v * 4 + j;
            }
            checkVector(m, d, a, b, rows, rowIdx, true);
        }
        for (int v = 0; v < 12; v++) {
            int[] colIdx = new int[5];
            for (int j = 0; j < 5; j++) {
                colIdx[j] = j * 12 + v;
            }
            checkVector(m, d, a, b, cols, colIdx, d != DType.F32);
        }
    }

    private static void checkVector(NuSlerp m, DType d, float[] a, float[] b, float[] merged, int[] idx,
                                    boolean exact) {
        float[] va = new float[idx.length];
        float[] vb = new float[idx.length];
        for (int j = 0; j < idx.length; j++) {
            va[j] = a[idx[j]];
            vb[j] = b[idx[j]];
        }
        float[] alone = run(m, ctx(m, new long[]{idx.length}, d, -1, Map.of(), 0.6, 0.4), va, vb);
        for (int j = 0; j < idx.length; j++) {
            if (exact) {
                assertThat(merged[idx[j]]).isEqualTo(alone[j]);
            } else {
                assertThat(merged[idx[j]]).isCloseTo(alone[j], withinPercentage(1e-4));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "BF16", "F32"})
    void nuslerpWithBaseInterpolatesTaskVectors(DType d) {
        NuSlerp m = new NuSlerp();
        long[] shape = {6, 10};
        float[] base = gaussian(d, 60, 0.02, 17);
        float[] x0 = gaussian(d, 60, 0.02, 18);
        float[] x1 = gaussian(d, 60, 0.02, 19);
        for (double rowWise : new double[]{0, 1}) {
            Map<String, Double> g = Map.of("nuslerp_flatten", 0.0, "nuslerp_row_wise", rowWise);
            float[] withBase = run(m, ctx(m, shape, d, 1, g, 0.7, 0, 0.3), x0, base, x1);
            float[] d0 = new float[60];
            float[] d1 = new float[60];
            for (int i = 0; i < 60; i++) {
                d0[i] = r(d, x0[i] - base[i]);
                d1[i] = r(d, x1[i] - base[i]);
            }
            float[] tv = run(m, ctx(m, shape, d, -1, g, 0.7, 0.3), d0, d1);
            for (int i = 0; i < 60; i++) {
                assertThat(withBase[i]).isEqualTo(r(d, base[i] + tv[i]));
            }
        }
    }

    @Test
    void nuslerpNeedsExactlyTwoModelsBesidesADistinctBase() {
        NuSlerp m = new NuSlerp();
        assertThat(m.checkOperands(1, -1)).isNull();
        assertThat(m.checkOperands(2, -1)).isNull();
        assertThat(m.checkOperands(3, 0)).isNull();
        assertThat(m.checkOperands(3, -1)).contains("exactly two models");
        assertThat(m.checkOperands(2, 1)).contains("can not be one of the two models");
        assertThat(m.checkOperands(4, 2)).contains("got 3");
    }

    // --------------------------------------------------------------------------------- multislerp

    @Test
    void multislerpOfOneModelReturnsItUnchangedEvenWithABase() {
        MultiSlerp m = new MultiSlerp();
        float[] base = gaussian(DType.F16, 9, 1, 20);
        float[] x = gaussian(DType.F16, 9, 1, 21);
        assertThat(run(m, ctx(m, new long[]{9}, DType.F16, 0, Map.of(), 0, 0.3), base, x)).isEqualTo(x);
        assertThat(m.isIdentity(ctx(m, new long[]{9}, DType.F16, -1, Map.of(), 0.3))).isTrue();
    }

    @Test
    void multislerpIsFiniteInFloat16ForAZeroTaskVectorAndForIdenticalModels() {
        MultiSlerp m = new MultiSlerp();
        DType d = DType.F16;
        float[] base = gaussian(d, 50, 0.02, 22);
        float[] x = gaussian(d, 50, 0.02, 23);
        float[] y = gaussian(d, 50, 0.02, 24);
        float[] zeroTask = run(m, ctx(m, new long[]{5, 10}, d, 0, Map.of(), 0, 1, 2, 3), base, x, base.clone(), y);
        assertFinite(zeroTask);
        float[] same = run(m, ctx(m, new long[]{5, 10}, d, 0, Map.of(), 0, 1, 2), base, x, x.clone());
        assertFinite(same);
        double err = 0;
        double task = 0;
        for (int i = 0; i < 50; i++) {
            err += Math.pow(same[i] - x[i], 2);
            task += Math.pow(x[i] - base[i], 2);
        }
        assertThat(Math.sqrt(err / task)).isLessThan(2e-3);
    }

    @Test
    void multislerpFallsBackToLinearWhenTheMeanVanishes() {
        MultiSlerp m = new MultiSlerp();
        DType d = DType.BF16;
        float[] base = new float[16];
        float[] x = new float[16];
        float[] mirror = new float[16];
        float[] zero = new float[16];
        for (int i = 0; i < 16; i++) {
            base[i] = 1f;
            x[i] = 1f + (i - 8) / 128f;
            mirror[i] = 1f - (i - 8) / 128f;
        }
        float[] two = run(m, ctx(m, new long[]{16}, d, 0, Map.of(), 0, 1, 1), base, x, mirror);
        float[] three = run(m, ctx(m, new long[]{16}, d, -1, Map.of(), 1, 1, 1), x, scaled(d, x, -1f), zero);
        for (int i = 0; i < 16; i++) {
            float tx = r(d, x[i] - base[i]);
            float tm = r(d, mirror[i] - base[i]);
            assertThat(two[i]).isEqualTo(r(d, r(d, r(d, tx * 0.5f) + r(d, tm * 0.5f)) + base[i])).isEqualTo(1f);
            float w = r(d, r(d, 1f) / r(d, 3f));
            float lin = r(d, r(d, r(d, x[i] * w) + r(d, -x[i] * w)) + r(d, 0f * w));
            assertThat(three[i]).isEqualTo(lin);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "BF16", "F32"})
    void multislerpKeepsTheWeightedMeanNorm(DType d) {
        MultiSlerp m = new MultiSlerp();
        float[] a = gaussian(d, 400, 0.02, 27);
        float[] b = gaussian(d, 400, 0.02, 28);
        float[] c = gaussian(d, 400, 0.02, 29);
        float[] out = run(m, ctx(m, new long[]{20, 20}, d, -1, Map.of(), 1, 2, 3), a, b, c);
        double want = (norm(a) + 2 * norm(b) + 3 * norm(c)) / 6;
        assertThat(norm(out)).isCloseTo(want, withinPercentage(1));
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        return Math.sqrt(s);
    }

    @Test
    void multislerpRefusesWeightsThatSumToZeroAndANegativeEps() {
        MultiSlerp m = new MultiSlerp();
        long[] shape = {4};
        assertThat(m.checkParameters(ctx(m, shape, DType.BF16, -1, Map.of(), 0.5, -0.5)))
                .contains("weights sum to 0.0").contains("normalize_weights");
        assertThat(m.checkParameters(ctx(m, shape, DType.BF16, -1, Map.of("normalize_weights", 0.0), 0.5, -0.5)))
                .isNull();
        assertThat(m.checkParameters(ctx(m, shape, DType.BF16, -1, Map.of("eps", -1.0), 0.5, 0.5)))
                .contains("eps");
        assertThat(m.checkOperands(1, 0)).contains("at least one model");
        assertThat(m.checkOperands(2, 0)).isNull();
    }

    // ------------------------------------------------------------------------------------ karcher

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "BF16", "F32"})
    void karcherOfIdenticalModelsIsThatModel(DType d) {
        Karcher m = new Karcher();
        float[] a = gaussian(d, 33, 0.05, 30);
        float[] out = run(m, ctx(m, new long[]{3, 11}, d, -1, Map.of(), 0, 0, 0), a, a.clone(), a.clone());
        for (int i = 0; i < a.length; i++) {
            assertThat((double) Math.abs(out[i] - a[i])).isLessThanOrEqualTo(2 * ulp(d, a[i]));
        }
    }

    private static double ulp(DType d, float x) {
        return switch (d) {
            case F16 -> Math.max(Math.ulp(x) * 8192.0, 0x1p-24);
            case BF16 -> Math.ulp(x) * 65536.0;
            default -> Math.ulp(x);
        };
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "BF16", "F32"})
    void karcherAveragesDirectionsAndNorms(DType d) {
        Karcher m = new Karcher();
        float[] a = gaussian(d, 77, 0.02, 31);
        float[] b = gaussian(d, 77, 0.02, 32);
        float[] zero = new float[77];
        for (double maxIter : new double[]{0, 3, 10}) {
            float[] out = run(m, ctx(m, new long[]{7, 11}, d, -1, Map.of("max_iter", maxIter), 0, 0, 0), a, b, zero);
            assertThat(norm(out)).isCloseTo((norm(a) + norm(b)) / 3, withinPercentage(1));
            double cosA = dot(out, a) / norm(out) / norm(a);
            double cosB = dot(out, b) / norm(out) / norm(b);
            assertThat(cosA).isCloseTo(cosB, offset(0.02));
        }
        assertThat(run(m, ctx(m, new long[]{77}, d, -1, Map.of(), 0, 0), zero, zero.clone())).containsOnly(0f);
    }

    private static double dot(float[] x, float[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += (double) x[i] * y[i];
        }
        return s;
    }

    @Test
    void karcherChecksItsParameters() {
        Karcher m = new Karcher();
        long[] shape = {4};
        assertThat(m.checkParameters(ctx(m, shape, DType.F16, -1, Map.of("max_iter", 2.5), 0, 0)))
                .contains("max_iter").contains("2.5");
        assertThat(m.checkParameters(ctx(m, shape, DType.F16, -1, Map.of("max_iter", -1.0), 0, 0)))
                .contains("max_iter");
        assertThat(m.checkParameters(ctx(m, shape, DType.F16, -1, Map.of("tol", -1e-5), 0, 0))).contains("tol");
        assertThat(m.prepare(ctx(m, shape, DType.F16, -1, Map.of("max_iter", 20.0), 0, 0)).measuringPasses())
                .isEqualTo(62);
        assertThat(m.isIdentity(ctx(m, shape, DType.F16, -1, Map.of(), 0))).isTrue();
    }

    // ------------------------------------------------------------------------------------- shared

    /**
     * torch's float32 norm adds eight lane sums left to right and then the tail: with one large
     * square in lane 0 the small ones are lost to rounding, which a wide sum would keep.
     */
    @Test
    void float32NormFollowsTorchsLaneOrder() {
        float[] v = new float[9];
        v[0] = 4096f;
        for (int i = 1; i < 9; i++) {
            v[i] = 1f;
        }
        Spherical.SquareSum torch = new Spherical.SquareSum(9, true);
        Spherical.SquareSum wide = new Spherical.SquareSum(9, false);
        for (int i = 0; i < 9; i++) {
            torch.add(i, v[i]);
            wide.add(i, v[i]);
        }
        assertThat(torch.norm()).isEqualTo(4096f);
        assertThat(wide.norm()).isEqualTo((float) Math.sqrt(4096.0 * 4096 + 8)).isNotEqualTo(4096f);
        assertThat(Spherical.guard(DType.F16, 1e-8)).isEqualTo(1e-8f);
        assertThat(Spherical.guard(DType.BF16, 1e-8)).isEqualTo(Codec.round(DType.BF16, 1e-8f));
    }

    @Test
    void theMethodsAreRegistered() {
        assertThat(Methods.byName("nuslerp")).isInstanceOf(NuSlerp.class);
        assertThat(Methods.byName("multislerp")).isInstanceOf(MultiSlerp.class);
        assertThat(Methods.byName("karcher")).isInstanceOf(Karcher.class);
        assertThat(Methods.byName("nuslerp").prettyName()).isEqualTo("NuSLERP");
        assertThat(Methods.byName("multislerp").referenceUrl())
                .isEqualTo("https://goddard.blog/posts/multislerp-wow-what-a-cool-idea");
        assertThat(Methods.byName("karcher").referenceUrl()).isEqualTo("https://en.wikipedia.org/wiki/Karcher_mean");
    }
}
