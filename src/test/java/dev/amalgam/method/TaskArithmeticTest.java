package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

/**
 * The task-arithmetic family on small hand-checked tensors and seeded random ones: the rounding
 * steps, consensus, selection counts, the keyed random masks, DELLA's rank probabilities and
 * parameter validation.
 */
class TaskArithmeticTest {

    /** A context with the base at operand 0 and one parameter map per other model. */
    private static MergeContext ctx(long[] shape, DType d, Map<String, Double> globals,
                                    List<Map<String, Double>> models, long seed) {
        List<Map<String, Double>> per = new ArrayList<>();
        per.add(Map.of());
        per.addAll(models);
        Map<String, Double> g = new HashMap<>(Map.of("int8_mask", 0.0, "lambda", 1.0));
        g.putAll(globals);
        return new MergeContext("model.layers.0.mlp.up_proj.weight", shape, d, 0, g, per, seed);
    }

    private static Map<String, Double> model(double weight, double density) {
        return Map.of("weight", weight, "density", density);
    }

    private static float[] run(TaskArithmetic m, MergeContext ctx, float[][] ops, int chunk) {
        return Drive.run(m.prepare(withDefaults(m, ctx)), ops, chunk, ctx.rowLength());
    }

    /** Fills in the method's global and per-model defaults the planner would resolve. */
    private static MergeContext withDefaults(TaskArithmetic m, MergeContext ctx) {
        Map<String, Double> g = new HashMap<>();
        m.globalParameters().forEach(p -> g.put(p.name(), p.defaultValue()));
        g.putAll(ctx.globals());
        List<Map<String, Double>> per = new ArrayList<>();
        for (int i = 0; i < ctx.operands(); i++) {
            Map<String, Double> p = new HashMap<>();
            if (i != ctx.baseIndex()) {
                m.perModelParameters().forEach(s -> {
                    if (s.defaultValue() != null) {
                        p.put(s.name(), s.defaultValue());
                    }
                });
            }
            p.putAll(ctx.perModel().get(i));
            per.add(p);
        }
        return new MergeContext(ctx.tensorName(), ctx.shape(), ctx.workDtype(), ctx.baseIndex(), g, per, ctx.seed());
    }

    private static float[] gaussian(int n, double scale, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * scale);
        }
        return v;
    }

    private static float[] round(DType d, float[] v) {
        float[] o = v.clone();
        Codec.round(d, o, 0, o.length);
        return o;
    }

    @Test
    void taskArithmeticRoundsEveryStepToTheWorkingDtype() {
        DType d = DType.BF16;
        float[] base = round(d, new float[]{1f, -2f, 0.3f, 100f});
        float[] a = round(d, new float[]{1.1f, -2.5f, 0.31f, 101f});
        float[] b = round(d, new float[]{0.9f, -1f, 0.2f, 99f});
        MergeContext c = ctx(new long[]{4}, d, Map.of("lambda", 0.9), List.of(model(0.6, 1), model(0.3, 1)), 0);
        float[] out = run(TaskArithmetic.taskArithmetic(), c, new float[][]{base, a, b}, 3);
        float w0 = Codec.round(d, 0.6f);
        float w1 = Codec.round(d, 0.3f);
        for (int i = 0; i < 4; i++) {
            float wa = Codec.round(d, Codec.round(d, a[i] - base[i]) * w0);
            float wb = Codec.round(d, Codec.round(d, b[i] - base[i]) * w1);
            float mixed = Codec.round(d, Codec.round(d, wa + wb) * 0.9f);
            assertThat(out[i]).as("element %d", i).isEqualTo(Codec.round(d, base[i] + mixed));
        }
    }

    @Test
    void tiesElectsTheSignOfTheWeightedSumAndNormalisesByTheAgreeingWeights() {
        DType d = DType.F32;
        float[] base = {0, 0, 0, 0};
        float[] a = {1f, -1f, 2f, 0f};
        float[] b = {-3f, 2f, 1f, 0f};
        MergeContext c = ctx(new long[]{4}, d, Map.of(), List.of(model(1, 1), model(0.5, 1)), 0);
        float[] out = run(TaskArithmetic.ties(), c, new float[][]{base, a, b}, 2);
        // e0: 1 - 1.5 < 0 -> only b agrees: -1.5 / 0.5; e1: -1 + 1 = 0 -> +1: only b: 1 / 0.5;
        // e2: both agree: (2 + 0.5) / 1.5; e3: nothing agrees: 0 / 1 (the zero divisor guard)
        assertThat(out).containsExactly(-3f, 2f, 2.5f / 1.5f, 0f);
    }

    @Test
    void tiesKeepsExactlyKIncludingTiesLowerIndexFirst() {
        float[] base = new float[10];
        float[] a = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        MergeContext c = ctx(new long[]{10}, DType.F32, Map.of("normalize", 0.0), List.of(model(1, 0.29)), 0);
        for (int chunk : new int[]{1, 3, 7, 65536}) {
            float[] out = run(TaskArithmetic.ties(), c, new float[][]{base, a}, chunk);
            assertThat(out).containsExactly(1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
        }
    }

    @Test
    void tiesWithZeroSelectionCountKeepsNothing() {
        float[] base = new float[5];
        float[] a = {1, 2, 3, 4, 5};
        MergeContext c = ctx(new long[]{5}, DType.F32, Map.of("normalize", 0.0), List.of(model(1, 0.1)), 0);
        assertThat(run(TaskArithmetic.ties(), c, new float[][]{base, a}, 2)).containsOnly(0f);
    }

    @Test
    void breadcrumbsDropsTheLargestAndSmallestAndKeepsKOnSmallTensorsToo() {
        float[] base = new float[10];
        float[] a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        Map<String, Double> m = new HashMap<>(model(1, 0.5));
        m.put("gamma", 0.2);
        MergeContext c = ctx(new long[]{10}, DType.F32, Map.of(), List.of(m), 0);
        assertThat(run(TaskArithmetic.breadcrumbs(), c, new float[][]{base, a}, 3))
                .containsExactly(0, 0, 0, 4, 5, 6, 7, 8, 0, 0);
        m.put("gamma", 0.01);
        c = ctx(new long[]{10}, DType.F32, Map.of(), List.of(m), 0);
        assertThat(run(TaskArithmetic.breadcrumbs(), c, new float[][]{base, a}, 3))
                .as("int(gamma*numel) == 0 drops no outliers instead of zeroing everything")
                .containsExactly(0, 0, 0, 0, 0, 6, 7, 8, 9, 10);
    }

    /**
     * A tensor larger than the selector's calibration: counted in one chunk (no bracket), in
     * executor chunks (bracketed), and with a first chunk far smaller than the rest (the bracket
     * misses and the merge adds a recount pass): the same bits, with rescale too.
     */
    @Test
    void tiesBracketedAndRecountedCountsGiveTheSameMergeAsOneFullCount() {
        int n = 3 * MagnitudeSelector.CALIBRATION + 123;
        DType d = DType.BF16;
        float[] base = gaussian(n, 0.02, 1);
        float[] a = gaussian(n, 0.002, 2);
        float[] b = gaussian(n, 0.002, 3);
        for (int i = 0; i < n; i++) {
            base[i] = Codec.round(d, base[i]);
            a[i] = Codec.round(d, base[i] + a[i] * (i < MagnitudeSelector.CALIBRATION ? 0.01f : 1f));
            b[i] = Codec.round(d, base[i] + b[i]);
        }
        for (double rescale : new double[] {0, 1}) {
            MergeContext c = ctx(new long[]{n}, d, Map.of("rescale", rescale), List.of(model(0.6, 0.4),
                    model(0.4, 0.7)), 0);
            TaskArithmetic ties = TaskArithmetic.ties();
            TensorMerge whole = ties.prepare(withDefaults(ties, c));
            float[] one = Drive.run(whole, new float[][]{base, a, b}, n, n);
            assertThat(whole.measuringPasses()).isEqualTo(rescale == 0 ? 1 : 2);
            TensorMerge chunked = ties.prepare(withDefaults(ties, c));
            float[] many = Drive.run(chunked, new float[][]{base, a, b}, MagnitudeSelector.CALIBRATION, n);
            assertThat(chunked.measuringPasses()).as("model a's bracket missed: one recount").isEqualTo(
                    rescale == 0 ? 2 : 3);
            assertThat(many).isEqualTo(one);
            assertThat(IntStream.range(0, n).filter(i -> many[i] != base[i]).count()).isGreaterThan(n / 4);
        }
    }

    @Test
    void tiesRescaleMatchesTheL1NormOfTheWholeTaskVector() {
        float[] base = new float[1000];
        float[] a = gaussian(1000, 1, 5);
        MergeContext c = ctx(new long[]{1000}, DType.F32, Map.of("rescale", 1.0, "normalize", 0.0),
                List.of(model(1, 0.3)), 0);
        float[] out = run(TaskArithmetic.ties(), c, new float[][]{base, a}, 77);
        assertThat(l1(out)).isCloseTo(l1(a), offset(1e-3 * l1(a)));
        assertThat(nonZero(out)).isEqualTo(300);
    }

    /**
     * DARE's cached keep masks come out of one budget for the process: a merge takes its bits when
     * it measures its first chunk (merges are prepared ahead), holds them to its last chunk, and
     * where the budget is spent draws the masks again, with the same result.
     */
    @Test
    void dareMaskCachesShareOneBudgetReturnedAfterTheLastChunk() {
        int n = 100_000;
        float[] base = new float[n];
        float[] a = gaussian(n, 1e-2, 4);
        float[] b = gaussian(n, 1e-2, 5);
        MergeContext c = withDefaults(TaskArithmetic.dareLinear(), ctx(new long[]{100, 1000}, DType.BF16,
                Map.of("rescale", 1.0), List.of(model(0.6, 0.5), model(0.4, 0.3)), 9));
        long free = TaskArithmeticMerge.maskCacheFree();
        TensorMerge prepared = TaskArithmetic.dareLinear().prepare(c);
        assertThat(TaskArithmeticMerge.maskCacheFree()).as("prepared ahead, it holds nothing yet").isEqualTo(free);
        long[] between = {-1};
        TensorMerge watched = new TensorMerge() {
            @Override
            public int measuringPasses() {
                return prepared.measuringPasses();
            }

            @Override
            public void measure(int pass, float[][] in, int len, long offset) {
                prepared.measure(pass, in, len, offset);
            }

            @Override
            public void endPass(int pass) {
                prepared.endPass(pass);
                between[0] = TaskArithmeticMerge.maskCacheFree();
            }

            @Override
            public void apply(float[][] in, int len, long offset, float[] out) {
                prepared.apply(in, len, offset, out);
            }
        };
        float[] cached = Drive.run(watched, new float[][]{base, a, b}, 4096, c.rowLength());
        assertThat(between[0]).as("held between the passes").isEqualTo(free - 2L * n);
        assertThat(TaskArithmeticMerge.maskCacheFree()).as("returned after the last chunk").isEqualTo(free);
        assertThat(TaskArithmeticMerge.reserveMaskCache(free)).isTrue();
        try {
            TensorMerge drawing = TaskArithmetic.dareLinear().prepare(c);
            assertThat(Drive.run(drawing, new float[][]{base, a, b}, 4096, c.rowLength()))
                    .as("masks drawn again").containsExactly(cached);
        } finally {
            TaskArithmeticMerge.releaseMaskCache(free);
        }
        // masks were drawn: an element survives where either model keeps it, 1 - 0.5 * 0.7 of them
        assertThat(nonZero(cached)).isBetween((long) (0.62 * n), (long) (0.68 * n));
    }

    @Test
    void dareKeepFractionIsTheDensityOnAMillionElementsAndIndependentOfChunkSize() {
        int n = 1_000_000;
        float[] base = new float[n];
        float[] a = gaussian(n, 1e-2, 11);
        for (double density : new double[]{0.1, 0.53, 0.9}) {
            MergeContext c = ctx(new long[]{1000, 1000}, DType.F32, Map.of("rescale", 0.0),
                    List.of(model(1, density)), 42);
            float[] small = run(TaskArithmetic.dareLinear(), c, new float[][]{base, a}, 1000);
            float[] large = run(TaskArithmetic.dareLinear(), c, new float[][]{base, a}, 65536);
            assertThat(large).isEqualTo(small);
            assertThat((double) nonZero(small) / n).isCloseTo(density, offset(0.01));
        }
    }

    @Test
    void dareMasksDependOnSeedTensorAndModelButNotOnChunking() {
        float[] base = new float[4096];
        float[] a = gaussian(4096, 1, 3);
        MergeContext c1 = ctx(new long[]{4096}, DType.BF16, Map.of(), List.of(model(1, 0.5), model(1, 0.5)), 1);
        MergeContext c2 = ctx(new long[]{4096}, DType.BF16, Map.of(), List.of(model(1, 0.5), model(1, 0.5)), 2);
        float[] x = round(DType.BF16, a);
        float[] zero = new float[4096];
        float[] first = run(TaskArithmetic.dareLinear(), c1, new float[][]{base, x, zero}, 100);
        float[] second = run(TaskArithmetic.dareLinear(), c1, new float[][]{base, zero, x}, 100);
        assertThat(run(TaskArithmetic.dareLinear(), c1, new float[][]{base, x, zero}, 4096)).isEqualTo(first);
        assertThat(run(TaskArithmetic.dareLinear(), c2, new float[][]{base, x, zero}, 100)).isNotEqualTo(first);
        assertThat(second).as("the second model draws its own stream").isNotEqualTo(first);
    }

    @Test
    void dareRescaleRestoresTheL1Norm() {
        float[] base = new float[100_000];
        float[] a = round(DType.F16, gaussian(100_000, 1e-2, 8));
        MergeContext c = ctx(new long[]{100_000}, DType.F16, Map.of(), List.of(model(1, 0.3)), 9);
        float[] out = run(TaskArithmetic.dareLinear(), c, new float[][]{base, a}, 4096);
        assertThat(l1(out)).isCloseTo(l1(a), offset(1e-3 * l1(a)));
    }

    @Test
    void dellaKeepsLargeMagnitudesMoreOftenAndIsIndependentOfChunkSize() {
        int rows = 2000;
        int cols = 64;
        float[] base = new float[rows * cols];
        float[] a = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                a[r * cols + j] = (j + 1) * 0.01f; // rank j within every row
            }
        }
        Map<String, Double> m = new HashMap<>(model(1, 0.5));
        m.put("epsilon", 0.3);
        MergeContext c = ctx(new long[]{rows, cols}, DType.F32, Map.of("rescale", 0.0), List.of(m), 4);
        float[] out = run(TaskArithmetic.dellaLinear(), c, new float[][]{base, a}, 1000);
        assertThat(run(TaskArithmetic.dellaLinear(), c, new float[][]{base, a}, 65536)).isEqualTo(out);
        assertThat(run(TaskArithmetic.dellaLinear(), c, new float[][]{base, a}, 1)).isEqualTo(out);
        double smallest = 0;
        double largest = 0;
        for (int r = 0; r < rows; r++) {
            smallest += out[r * cols] != 0 ? 1 : 0;
            largest += out[r * cols + cols - 1] != 0 ? 1 : 0;
        }
        assertThat(smallest / rows).isCloseTo(0.2, offset(0.03));
        assertThat(largest / rows).isCloseTo(0.8, offset(0.03));
        assertThat((double) nonZero(out) / out.length).isCloseTo(0.5, offset(0.01));
    }

    @Test
    void dellaRanksEqualMagnitudesWithTheLowerIndexHigher() {
        int rows = 4000;
        int cols = 8;
        float[] base = new float[rows * cols];
        float[] a = new float[rows * cols];
        Arrays.fill(a, -0.5f);
        Map<String, Double> m = new HashMap<>(model(1, 0.5));
        m.put("epsilon", 0.45);
        MergeContext c = ctx(new long[]{rows, cols}, DType.BF16, Map.of("rescale", 0.0), List.of(m), 12);
        float[] out = run(TaskArithmetic.dellaLinear(), c, new float[][]{base, a}, 4096);
        double first = 0;
        double last = 0;
        for (int r = 0; r < rows; r++) {
            first += out[r * cols] != 0 ? 1 : 0;
            last += out[r * cols + cols - 1] != 0 ? 1 : 0;
        }
        assertThat(first / rows).isCloseTo(0.95, offset(0.02));
        assertThat(last / rows).isCloseTo(0.05, offset(0.02));
    }

    /**
     * DELLA's keep decisions against a reference that sorts each row's indices by (|δ| ascending,
     * index descending) and draws the same keyed words: rows whose bfloat16 or float16 keys span
     * few values (counted), span too many (radix-sorted), hold zeros and long runs of ties, in
     * rows that split into four blocks unevenly.
     */
    @ParameterizedTest(name = "{0}, {1} columns, seed 21")
    @CsvSource({"BF16, 2051", "BF16, 64", "F16, 2051", "F16, 67", "F32, 67"})
    void dellaRanksAsASortOfEachRowWould(DType d, int cols) {
        int rows = 24;
        Random r = new Random(21);
        float[] base = new float[rows * cols];
        float[] a = new float[rows * cols];
        for (int row = 0; row < rows; row++) {
            for (int j = 0; j < cols; j++) {
                int e = row * cols + j;
                base[e] = Codec.round(d, (float) (0.02 * r.nextGaussian()));
                float delta = switch (row % 4) {
                    case 0 -> (float) (0.002 * r.nextGaussian());                   // few distinct keys
                    // a span too wide to count: bfloat16 keys over 120 binades, float16 over 34
                    case 1 -> (float) Math.scalb(r.nextGaussian(), d == DType.BF16 ? r.nextInt(-60, 60)
                            : r.nextInt(-24, 10));
                    case 2 -> r.nextInt(4) == 0 ? 0f : (r.nextBoolean() ? 0.004f : -0.004f); // zeros and ties
                    default -> r.nextInt(3) == 0 ? 0f : (float) (0.01 * r.nextGaussian());
                };
                a[e] = Codec.round(d, base[e] + delta);
            }
        }
        double density = 0.6;
        double epsilon = 0.2;
        Map<String, Double> m = new HashMap<>(model(1, density));
        m.put("epsilon", epsilon);
        MergeContext c = ctx(new long[]{rows, cols}, d, Map.of("rescale", 0.0), List.of(m), 33);
        float[] out = run(TaskArithmetic.dellaLinear(), c, new float[][]{base, a}, 3 * cols);

        DType w = d == DType.BF16 ? DType.BF16 : DType.F32;
        float rmin = Codec.round(w, Codec.round(w, 0f) + 1f);
        float span = Codec.round(w, Codec.round(w, Codec.round(w, (float) (cols - 1)) + 1f) - rmin);
        float low = Codec.round(w, (float) (density - epsilon));
        KeyedRandom words = new KeyedRandom(33, c.tensorName(), 1);
        for (int row = 0; row < rows; row++) {
            int first = row * cols;
            float[] delta = new float[cols];
            Integer[] order = new Integer[cols];
            for (int j = 0; j < cols; j++) {
                delta[j] = Codec.round(d, a[first + j] - base[first + j]);
                order[j] = j;
            }
            Arrays.sort(order, (x, y) -> {
                int byKey = Integer.compare(MagnitudeSelector.key(delta[x]), MagnitudeSelector.key(delta[y]));
                return byKey != 0 ? byKey : Integer.compare(y, x);
            });
            for (int rank = 0; rank < cols; rank++) {
                int j = order[rank];
                float rr = Codec.round(w, Codec.round(w, (float) rank) + 1f);
                float rn = Math.clamp(Codec.round(w, Codec.round(w, rr - rmin) / span), 0f, 1f);
                float p = Codec.round(w, Codec.round(w, Codec.round(w, rn * 2f) * (float) epsilon) + low);
                boolean keep = RandomWords.keep(words.word(first + j), p);
                float expected = Codec.round(d, base[first + j] + (keep ? delta[j] : delta[j] * 0f));
                assertThat(out[first + j]).as("row %d column %d rank %d", row, j, rank).isEqualTo(expected);
            }
        }
    }

    @Test
    void dellaWithZeroDensityKeepsNothing() {
        float[] base = new float[64];
        float[] a = gaussian(64, 1, 2);
        Map<String, Double> m = new HashMap<>(model(1, 0.0));
        m.put("epsilon", 0.15);
        MergeContext c = ctx(new long[]{8, 8}, DType.F32, Map.of(), List.of(m), 1);
        assertThat(run(TaskArithmetic.della(), c, new float[][]{base, a}, 16)).containsOnly(0f);
    }

    @Test
    void onlyTheBaseGivesTheBase() {
        MergeContext c = new MergeContext("t", new long[]{3}, DType.F16, 0, Map.of("normalize", 1.0,
                "rescale", 1.0, "lambda", 2.0), List.of(Map.of()), 0);
        assertThat(TaskArithmetic.della().isIdentity(c)).isTrue();
        float[] base = {1, 2, 3};
        assertThat(Drive.run(TaskArithmetic.della().prepare(c), new float[][]{base}, 2, 3)).containsExactly(1, 2, 3);
    }

    @Test
    void fp16ZeroWeightSumDividesByOne() {
        float[] base = {1f, 1f};
        float[] a = {2f, 0f};
        float[] b = {2f, 0f};
        MergeContext c = ctx(new long[]{2}, DType.F16, Map.of("normalize", 1.0),
                List.of(model(1, 1), model(-1, 1)), 0);
        assertThat(run(TaskArithmetic.taskArithmetic(), c, new float[][]{base, a, b}, 2)).containsExactly(1f, 1f);
    }

    @Test
    void parametersAreValidated() {
        TaskArithmetic ties = TaskArithmetic.ties();
        assertThat(ties.checkParameters(ctx(new long[]{4}, DType.F16, Map.of(), List.of(model(1, 1.5)), 0)))
                .isEqualTo("density 1.5 of input 2 is outside [0, 1]");
        assertThat(ties.checkParameters(ctx(new long[]{4}, DType.F16, Map.of(), List.of(model(1, -0.1)), 0)))
                .isEqualTo("density -0.1 of input 2 is outside [0, 1]");
        assertThat(ties.checkParameters(ctx(new long[]{4}, DType.F16, Map.of(), List.of(model(1, 0.0)), 0))).isNull();
        Map<String, Double> g = new HashMap<>(model(1, 0.5));
        g.put("gamma", 1.5);
        assertThat(TaskArithmetic.breadcrumbs().checkParameters(ctx(new long[]{4}, DType.F16, Map.of(),
                List.of(g), 0))).isEqualTo("gamma 1.5 of input 2 is outside [0, 1]");
        Map<String, Double> e = new HashMap<>(model(1, 0.66));
        e.put("epsilon", 1.35);
        assertThat(TaskArithmetic.della().checkParameters(ctx(new long[]{4}, DType.F16, Map.of(), List.of(e), 0)))
                .isEqualTo("epsilon 1.35 with density 0.66 of input 2 gives keep probabilities outside (0, 1): "
                        + "density ± epsilon must lie strictly between 0 and 1");
        e.put("epsilon", 0.15);
        e.put("density", 0.9);
        assertThat(TaskArithmetic.dellaLinear().checkParameters(ctx(new long[]{4}, DType.F16, Map.of(),
                List.of(e), 0))).contains("epsilon 0.15 with density 0.9");
        e.put("density", 1.0);
        assertThat(TaskArithmetic.della().checkParameters(ctx(new long[]{4}, DType.F16, Map.of(), List.of(e), 0)))
                .as("density 1 does not sparsify, so epsilon does not matter").isNull();
        assertThat(ties.checkOperands(2, -1)).isEqualTo("ties subtracts the base model, which lacks this tensor");
        assertThat(ties.checkOperands(2, 1)).isNull();
    }

    @Test
    void registryEntriesCarryMergekitNamesParametersAndDefaults() {
        record Row(String name, String pretty, boolean normalize, boolean rescale, String extra) {
        }
        List<Row> rows = List.of(
                new Row("task_arithmetic", "Task Arithmetic", false, false, null),
                new Row("ties", "TIES", true, false, null),
                new Row("dare_ties", "DARE TIES", false, true, null),
                new Row("dare_linear", "Linear DARE", false, true, null),
                new Row("breadcrumbs", "Model Breadcrumbs", false, false, "gamma"),
                new Row("breadcrumbs_ties", "Model Breadcrumbs with TIES", false, false, "gamma"),
                new Row("della", "DELLA", true, true, "epsilon"),
                new Row("della_linear", "Linear DELLA", false, true, "epsilon"));
        for (Row r : rows) {
            MergeMethod m = Methods.byName(r.name);
            assertThat(m.prettyName()).isEqualTo(r.pretty);
            assertThat(m.baseRule()).isEqualTo(MergeMethod.BaseRule.REQUIRED);
            assertThat(m.globalParameters()).containsExactly(ParamSpec.flag("int8_mask", false),
                    ParamSpec.flag("normalize", r.normalize), ParamSpec.flag("rescale", r.rescale),
                    ParamSpec.optional("lambda", 1.0));
            List<ParamSpec> per = new ArrayList<>(List.of(ParamSpec.required("weight"),
                    ParamSpec.optional("density", 1.0)));
            if (r.extra != null) {
                per.add(ParamSpec.optional(r.extra, r.extra.equals("gamma") ? 0.01 : 0.15));
            }
            assertThat(m.perModelParameters()).containsExactlyElementsOf(per);
        }
    }

    private static double l1(float[] v) {
        double s = 0;
        for (float x : v) {
            s += Math.abs(x);
        }
        return s;
    }

    private static long nonZero(float[] v) {
        long c = 0;
        for (float x : v) {
            c += x != 0 ? 1 : 0;
        }
        return c;
    }
}
