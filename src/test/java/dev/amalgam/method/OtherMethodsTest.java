package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

/**
 * sce, ram, ramplus_tl, model_stock, nearswap and arcee_fusion on small hand-checked tensors and
 * on seeded random ones, against {@link OtherMethodsReference}: the streaming classes must agree
 * with the whole-array reference bit for bit, for every chunk size; plus the order statistics,
 * parameter checks and registry entries.
 */
class OtherMethodsTest {

    private static final String NAME = "model.layers.0.mlp.up_proj.weight";
    private static final int[] CHUNKS = {1, 7, 1 << 16};
    private static final long[][] SHAPES = {{1}, {3}, {7}, {17}, {1023}, {3, 7}, {17, 3}, {31, 33}};
    private static final DType[] DTYPES = {DType.BF16, DType.F16, DType.F32};

    /** A context with the base at operand 0, globals completed with the method's defaults. */
    private static MergeContext ctx(MergeMethod m, long[] shape, DType d, int operands, Map<String, Double> globals,
                                    long seed) {
        Map<String, Double> g = new HashMap<>();
        m.globalParameters().forEach(p -> g.put(p.name(), p.defaultValue()));
        g.putAll(globals);
        List<Map<String, Double>> per = new ArrayList<>();
        for (int i = 0; i < operands; i++) {
            per.add(Map.of());
        }
        return new MergeContext(NAME, shape, d, 0, g, per, seed);
    }

    /** Runs every chunk size, asserts they agree, returns the result. */
    private static float[] run(MergeMethod m, MergeContext ctx, float[][] ops) {
        float[] first = null;
        for (int chunk : CHUNKS) {
            float[] out = Drive.run(m.prepare(ctx), ops, chunk, ctx.rowLength());
            if (first == null) {
                first = out;
            } else {
                assertThat(out).as("chunk %d", chunk).isEqualTo(first);
            }
        }
        return first;
    }

    /**
     * Seeded operands: a base ~ N(0, 0.02²) and models = base + N(0, 0.002²), rounded to d; about
     * a tenth of each model's elements equal the base, and deltas are quantised to multiples of
     * 2^-12 so that variances and importances tie.
     */
    private static float[][] operands(int models, int n, DType d, long seed) {
        Random rnd = new Random(seed);
        float[][] ops = new float[models + 1][n];
        for (int i = 0; i < n; i++) {
            ops[0][i] = Codec.round(d, (float) (rnd.nextGaussian() * 0.02));
        }
        for (int j = 1; j <= models; j++) {
            for (int i = 0; i < n; i++) {
                float delta = rnd.nextInt(10) == 0 ? 0f : Math.round(rnd.nextGaussian() * 8) * 0x1p-12f;
                ops[j][i] = Codec.round(d, ops[0][i] + delta);
            }
        }
        return ops;
    }

    private static float[][] others(float[][] ops) {
        return Arrays.copyOfRange(ops, 1, ops.length);
    }

    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        long seed = 1;
        for (DType d : DTYPES) {
            for (long[] shape : SHAPES) {
                a.add(Arguments.of(d, shape, seed++));
            }
        }
        return a.stream();
    }

    private static int numel(long[] shape) {
        return (int) Arrays.stream(shape).reduce(1, (x, y) -> x * y);
    }

    @ParameterizedTest(name = "{0} {1} seed {2}")
    @MethodSource("cases")
    void nearswapMatchesReference(DType d, long[] shape, long seed) {
        float[][] ops = operands(1, numel(shape), d, seed);
        MergeContext c = ctx(new NearSwap(), shape, d, 2, Map.of("t", 0.001), seed);
        assertThat(run(new NearSwap(), c, ops)).isEqualTo(OtherMethodsReference.nearswap(d, ops[0], ops[1], 0.001));
    }

    @ParameterizedTest(name = "{0} {1} seed {2}")
    @MethodSource("cases")
    void ramAndRamPlusMatchReference(DType d, long[] shape, long seed) {
        float[][] ops = operands(3, numel(shape), d, seed);
        Map<String, Double> g = Map.of("epsilon", 0.001, "r", 0.1, "alpha", 0.2);
        assertThat(run(new Ram(), ctx(new Ram(), shape, d, 4, g, seed), ops))
                .isEqualTo(OtherMethodsReference.ram(d, ops[0], others(ops), false, 0, 0, 0.001));
        assertThat(run(new RamPlusTl(), ctx(new RamPlusTl(), shape, d, 4, g, seed), ops))
                .isEqualTo(OtherMethodsReference.ram(d, ops[0], others(ops), true, 0.1, 0.2, 0.001));
    }

    @ParameterizedTest(name = "{0} {1} seed {2}")
    @MethodSource("cases")
    void sceMatchesReferenceWithLowerIndexTies(DType d, long[] shape, long seed) {
        float[][] ops = operands(3, numel(shape), d, seed);
        for (double topk : new double[]{0.3, 0.5, 1.0}) {
            MergeContext c = ctx(new Sce(), shape, d, 4, Map.of("select_topk", topk), seed);
            float[] var = OtherMethodsReference.variance(d, ops[0], others(ops));
            long k = OtherMethodsReference.sceK(var, topk);
            float[] want = topk >= 1 ? OtherMethodsReference.sce(d, ops[0], others(ops), null)
                    : k == 0 ? ops[0] : OtherMethodsReference.sce(d, ops[0], others(ops),
                    OtherMethodsReference.sceSelection(var, k));
            assertThat(run(new Sce(), c, ops)).as("select_topk %s", topk).isEqualTo(want);
        }
    }

    @ParameterizedTest(name = "{0} {1} seed {2}")
    @MethodSource("cases")
    void modelStockMatchesReference(DType d, long[] shape, long seed) {
        int n = numel(shape);
        for (int models : new int[]{2, 3}) {
            float[][] ops = operands(models, n, d, seed);
            MergeContext flat = ctx(new ModelStock(), shape, d, models + 1, Map.of(), seed);
            assertThat(run(new ModelStock(), flat, ops))
                    .isEqualTo(OtherMethodsReference.modelStock(d, ops[0], others(ops), n));
            MergeContext rows = ctx(new ModelStock(), shape, d, models + 1, Map.of("filter_wise", 1.0), seed);
            assertThat(run(new ModelStock(), rows, ops)).isEqualTo(
                    OtherMethodsReference.modelStock(d, ops[0], others(ops), (int) shape[shape.length - 1]));
        }
    }

    @ParameterizedTest(name = "{0} {1} seed {2}")
    @MethodSource("cases")
    void arceeFusionMatchesReference(DType d, long[] shape, long seed) {
        float[][] ops = operands(1, numel(shape), d, seed);
        int row = (int) shape[shape.length - 1];
        float[] imp = OtherMethodsReference.importance(d, ops[0], ops[1], row);
        float thr = OtherMethodsReference.threshold(d, imp, imp);
        MergeContext c = ctx(new ArceeFusion(), shape, d, 2, Map.of(), seed);
        assertThat(run(new ArceeFusion(), c, ops)).isEqualTo(OtherMethodsReference.fuse(ops[0], ops[1], imp, thr, d));
    }

    @Test
    void arceeFusionSamplesWithTheKeyedStreamAboveTheSampleSize() {
        DType d = DType.BF16;
        long[] shape = {31, 33};
        float[][] ops = operands(1, 31 * 33, d, 77);
        MergeContext c = ctx(new ArceeFusion(), shape, d, 2, Map.of(), 1234);
        float[] imp = OtherMethodsReference.importance(d, ops[0], ops[1], 33);
        float thr = OtherMethodsReference.threshold(d,
                OtherMethodsReference.sample(imp, new KeyedRandom(1234, NAME, 0), 100),
                OtherMethodsReference.sample(imp, new KeyedRandom(1234, NAME, 1), 100));
        float[] want = OtherMethodsReference.fuse(ops[0], ops[1], imp, thr, d);
        for (int chunk : CHUNKS) {
            assertThat(Drive.run(new ArceeFusion.Merge(c, 100), ops, chunk, 33)).as("chunk %d", chunk)
                    .isEqualTo(want);
        }
    }

    @Test
    void arceeFusionSamplesTensorsOfMoreThanAMillionElements() {
        DType d = DType.F16;
        long[] shape = {1001, 1000};
        float[][] ops = operands(1, 1001 * 1000, d, 5);
        MergeContext c = ctx(new ArceeFusion(), shape, d, 2, Map.of(), 42);
        float[] imp = OtherMethodsReference.importance(d, ops[0], ops[1], 1000);
        float thr = OtherMethodsReference.threshold(d,
                OtherMethodsReference.sample(imp, new KeyedRandom(42, NAME, 0), 1_000_000),
                OtherMethodsReference.sample(imp, new KeyedRandom(42, NAME, 1), 1_000_000));
        float[] out = Drive.run(new ArceeFusion().prepare(c), ops, 1 << 16, 1000);
        assertThat(out).isEqualTo(OtherMethodsReference.fuse(ops[0], ops[1], imp, thr, d));
    }

    @Test
    void nearswapTakesTheOtherModelWhereItIsWithinT() {
        float[][] ops = {{0f, 0f, 1f}, {0.0005f, 1f, 1.002f}};
        float[] out = run(new NearSwap(), ctx(new NearSwap(), new long[]{3}, DType.F32, 2, Map.of("t", 0.001), 0),
                ops);
        assertThat(out[0]).isEqualTo(0.0005f);
        assertThat(out[1]).isCloseTo(0.001f, offset(1e-9f));
        assertThat(out[2]).isCloseTo(1.001f, offset(1e-6f));
    }

    @Test
    void ramTakesUniqueDeltasWholeAndAveragesSharedOnes() {
        float[][] ops = {{0f, 0f, 0f, 0f}, {0.5f, 0.5f, 1e-6f, 0.3f}, {0f, 0.3f, 0f, 0.6f}, {0f, 0f, 0f, 0.9f}};
        Map<String, Double> g = Map.of("epsilon", 1e-5);
        float[] out = run(new Ram(), ctx(new Ram(), new long[]{4}, DType.F32, 4, g, 0), ops);
        assertThat(out[0]).isEqualTo(0.5f);
        assertThat(out[1]).isCloseTo(0.4f, offset(1e-7f));
        assertThat(out[2]).isZero();
        assertThat(out[3]).isCloseTo(0.6f, offset(1e-7f));
        float[] plus = run(new RamPlusTl(), ctx(new RamPlusTl(), new long[]{4}, DType.BF16, 4, g, 0),
                bf16(ops));
        assertThat(plus[0]).as("0.5 · (1 + 0.1 · clamp(2/1, 0, 0.2))").isEqualTo(0.5f * 1.02f);
    }

    private static float[][] bf16(float[][] ops) {
        float[][] o = new float[ops.length][];
        for (int i = 0; i < ops.length; i++) {
            o[i] = ops[i].clone();
            Codec.round(DType.BF16, o[i], 0, o[i].length);
        }
        return o;
    }

    @Test
    void ramplusTlAndArceeFusionReturnFloat32() {
        for (DType d : DTYPES) {
            assertThat(new RamPlusTl().resultDtype(d)).isEqualTo(DType.F32);
            assertThat(new ArceeFusion().resultDtype(d)).isEqualTo(DType.F32);
            assertThat(new Ram().resultDtype(d)).isEqualTo(d);
            assertThat(new Sce().resultDtype(d)).isEqualTo(d);
        }
    }

    @Test
    void sceReturnsTheBaseWhenNoVarianceIsSelected() {
        float[] base = {0.1f, 0.2f, 0.3f};
        float[] same = {0.2f, 0.1f, 0.4f};
        for (float[][] ops : List.of(new float[][]{base, same}, new float[][]{base, same, same})) {
            MergeContext c = ctx(new Sce(), new long[]{3}, DType.F32, ops.length, Map.of("select_topk", 0.5), 0);
            assertThat(run(new Sce(), c, ops)).isEqualTo(base);
        }
    }

    @Test
    void sceWeightsBySquaresUnderSignConsensus() {
        float[][] ops = {{0f, 0f}, {1f, -1f}, {1f, 1f}};
        MergeContext c = ctx(new Sce(), new long[]{2}, DType.F32, 3, Map.of(), 0);
        assertThat(run(new Sce(), c, ops)).containsExactly(1f, 1f);
    }

    @Test
    void sceBreaksVarianceTiesByLowerIndex() {
        float[][] ops = {{0f, 0f, 0f, 0f}, {1f, 1f, 1f, 2f}, {-1f, -1f, -1f, -2f}};
        MergeContext c = ctx(new Sce(), new long[]{4}, DType.F32, 3, Map.of("select_topk", 0.5), 0);
        float[] out = run(new Sce(), c, ops);
        assertThat(out).containsExactly(1f, 0f, 0f, 2f);
    }

    @Test
    void modelStockInterpolatesByTheAngle() {
        float[][] orthogonal = {{0f, 0f, 5f, 5f}, {1f, 0f, 6f, 7f}, {0f, 1f, 6f, 7f}};
        MergeContext flat = ctx(new ModelStock(), new long[]{2, 2}, DType.F32, 3, Map.of(), 0);
        MergeContext rows = ctx(new ModelStock(), new long[]{2, 2}, DType.F32, 3, Map.of("filter_wise", 1.0), 0);
        assertThat(run(new ModelStock(), rows, orthogonal)).as("row 0 orthogonal: base; row 1 equal: average")
                .containsExactly(0f, 0f, 6f, 7f);
        float t = 10f / 11f;
        float[] f = run(new ModelStock(), flat, orthogonal);
        float[] avg = {0.5f, 0.5f, 6f, 7f};
        for (int i = 0; i < 4; i++) {
            assertThat(f[i]).as("cos 5/6, t = 10/11").isCloseTo(t * avg[i] + (1 - t) * orthogonal[0][i],
                    offset(1e-5f));
        }
    }

    @Test
    void orderStatisticsMatchASort() {
        Random rnd = new Random(11);
        for (int n : new int[]{1, 3, 7, 17, 1023, 70000}) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = switch (rnd.nextInt(12)) {
                    case 0 -> -0f;
                    case 1 -> 0f;
                    case 2 -> Float.NaN;
                    case 3 -> Float.NEGATIVE_INFINITY;
                    case 4 -> Float.POSITIVE_INFINITY;
                    case 5 -> Float.intBitsToFloat(rnd.nextInt());
                    default -> (float) rnd.nextGaussian();
                };
            }
            float[] sorted = v.clone();
            Arrays.sort(sorted);
            long[] ranks = {0, n / 4, n / 2, (3L * n) / 4, n - 1};
            OrderStatistics s = new OrderStatistics(ranks);
            for (float x : v) {
                s.countHigh(x);
            }
            s.endHigh();
            for (float x : v) {
                s.countLow(x);
            }
            s.endLow();
            for (int i = 0; i < ranks.length; i++) {
                float want = sorted[(int) ranks[i]];
                assertThat(Float.compare(s.value(i) + 0f, want + 0f)).as("n %d rank %d", n, ranks[i]).isZero();
            }
        }
    }

    @Test
    void badParametersAndOperandsAreRefused() {
        assertThat(new Sce().checkParameters(ctx(new Sce(), new long[]{1}, DType.F32, 2, Map.of("select_topk", 0.0), 0)))
                .contains("select_topk must lie in (0, 1]");
        assertThat(new Sce().checkParameters(ctx(new Sce(), new long[]{1}, DType.F32, 2, Map.of("select_topk", 1.5), 0)))
                .contains("got 1.5");
        assertThat(new Sce().checkParameters(ctx(new Sce(), new long[]{1}, DType.F32, 2, Map.of("select_topk", 1.0), 0)))
                .isNull();
        assertThat(new NearSwap().checkParameters(ctx(new NearSwap(), new long[]{1}, DType.F32, 2, Map.of("t", 0.0), 0)))
                .contains("positive");
        assertThat(new NearSwap().checkParameters(ctx(new NearSwap(), new long[]{1}, DType.F32, 2,
                Map.of("t", -1.0), 0))).contains("got -1.0");
        assertThat(new Ram().checkParameters(ctx(new Ram(), new long[]{1}, DType.F32, 2, Map.of("epsilon", -1e-5), 0)))
                .contains("epsilon");
        assertThat(new RamPlusTl().checkParameters(ctx(new RamPlusTl(), new long[]{1}, DType.F32, 2,
                Map.of("alpha", -0.1), 0))).contains("alpha");
        assertThat(new ModelStock().checkOperands(2, 0)).contains("at least two other models, got 1");
        assertThat(new ModelStock().checkOperands(3, -1)).contains("base model");
        assertThat(new ModelStock().checkOperands(3, 0)).isNull();
        for (MergeMethod m : List.of(new NearSwap(), new ArceeFusion())) {
            assertThat(m.checkOperands(3, 0)).as(m.name()).contains("exactly two models");
            assertThat(m.checkOperands(1, 0)).as(m.name()).contains("exactly two models");
            assertThat(m.checkOperands(2, -1)).as(m.name()).contains("base model");
            assertThat(m.checkOperands(2, 1)).as(m.name()).isNull();
        }
        for (MergeMethod m : List.of(new Sce(), new Ram(), new RamPlusTl())) {
            assertThat(m.checkOperands(3, -1)).as(m.name()).contains("base model");
            assertThat(m.checkOperands(1, 0)).as(m.name()).isNull();
        }
    }

    @Test
    void registeredWithTheModelCardNamesAndDefaults() {
        Map<String, String[]> want = Map.of(
                "sce", new String[]{"SCE", "https://arxiv.org/abs/2408.07990"},
                "ram", new String[]{"Reinforced Agent Merging", "https://arxiv.org/abs/2601.13572"},
                "ramplus_tl", new String[]{"Reinforced Agent Merging Plus (Tensor-Local)",
                        "https://arxiv.org/abs/2601.13572"},
                "model_stock", new String[]{"Model Stock", "https://arxiv.org/abs/2403.19522"},
                "nearswap", new String[]{"NearSwap", "https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001"},
                "arcee_fusion", new String[]{"Arcee Fusion", "https://arcee.ai"});
        want.forEach((name, card) -> {
            MergeMethod m = Methods.byName(name);
            assertThat(m).as(name).isNotNull();
            assertThat(m.prettyName()).isEqualTo(card[0]);
            assertThat(m.referenceUrl()).isEqualTo(card[1]);
            assertThat(m.baseRule()).isEqualTo(MergeMethod.BaseRule.REQUIRED);
            assertThat(m.perModelParameters()).isEmpty();
        });
        assertThat(Methods.byName("sce").globalParameters()).containsExactly(ParamSpec.flag("int8_mask", false),
                ParamSpec.optional("select_topk", 1.0));
        assertThat(Methods.byName("ram").globalParameters()).containsExactly(ParamSpec.optional("epsilon", 1e-5));
        assertThat(Methods.byName("ramplus_tl").globalParameters()).containsExactly(ParamSpec.optional("r", 0.1),
                ParamSpec.optional("alpha", 0.2), ParamSpec.optional("epsilon", 1e-5));
        assertThat(Methods.byName("model_stock").globalParameters())
                .containsExactly(ParamSpec.flag("filter_wise", false));
        assertThat(Methods.byName("nearswap").globalParameters()).containsExactly(ParamSpec.required("t"));
        assertThat(Methods.byName("arcee_fusion").globalParameters()).isEmpty();
    }
}
