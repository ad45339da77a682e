package dev.amalgam.method;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.exec.Executor;
import dev.amalgam.exec.RunOptions;
import dev.amalgam.golden.Golden;
import dev.amalgam.io.DType;
import dev.amalgam.io.TensorInfo;
import dev.amalgam.kernel.Codec;
import dev.amalgam.plan.Operand;
import dev.amalgam.plan.OutputTensor;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.PlanOptions;
import dev.amalgam.plan.Planner;
import dev.amalgam.recipe.Recipe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Golden comparisons of sce, model_stock (flat and filter_wise), nearswap, arcee_fusion, ram and
 * ramplus_tl against the reference tool's outputs: each case runs end to end (recipe, planner,
 * executor) from the golden root and every output tensor is compared with the reference, dtype
 * included (ramplus_tl and arcee_fusion write F32). Deterministic cases must match bit for bit
 * (up to one ulp on a few elements), float32 outputs within 1e-6 relative; arcee_fusion may
 * differ only by elements on the importance threshold, sce only by the choice among variances
 * tied at the top-k threshold.
 */
class OtherMethodsGoldenTest {

    @TempDir
    Path tmp;

    /** One output tensor: the inputs as the method saw them, our output and the reference's. */
    record TensorCase(OutputTensor tensor, float[][] inputs, float[] ours, float[] ref, DType dtype) {

        DType work() {
            return tensor.context().workDtype();
        }

        float[] base() {
            return inputs[tensor.context().baseIndex()];
        }

        float[][] others() {
            int b = tensor.context().baseIndex();
            return IntStream.range(0, inputs.length).filter(k -> k != b).mapToObj(k -> inputs[k])
                    .toArray(float[][]::new);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"model_stock", "model_stock-filter_wise", "nearswap", "ram"})
    void deterministicCasesMatchBitForBit(String name) throws IOException {
        long[] c = compare(run(name));
        System.out.printf(Locale.ROOT, "%s: %d elements, %d bit-equal (%.5f%%), %d beyond one ulp%n", name, c[0],
                c[1], 100.0 * c[1] / c[0], c[2]);
        assertThat((double) c[1] / c[0]).isGreaterThanOrEqualTo(0.9999);
        assertThat(c[2]).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"ramplus_tl", "arcee_fusion"})
    void float32CasesMatchWithinOneMillionth(String name) throws IOException {
        List<TensorCase> cases = run(name);
        long n = 0;
        long equal = 0;
        long onThreshold = 0;
        long beyond = 0;
        double maxRel = 0;
        for (TensorCase c : cases) {
            assertThat(c.dtype).as(c.tensor.name()).isEqualTo(DType.F32);
            boolean[] flips = name.equals("arcee_fusion") ? thresholdFlips(c) : new boolean[c.ours.length];
            for (int i = 0; i < c.ours.length; i++) {
                n++;
                if (Float.floatToIntBits(c.ours[i]) == Float.floatToIntBits(c.ref[i])) {
                    equal++;
                } else if (flips[i]) {
                    onThreshold++;
                } else {
                    double rel = Math.abs((double) c.ours[i] - c.ref[i]) / Math.abs(c.ref[i]);
                    maxRel = Math.max(maxRel, rel);
                    beyond += rel > 1e-6 ? 1 : 0;
                }
            }
        }
        System.out.printf(Locale.ROOT, "%s: %d elements (F32), %d bit-equal (%.5f%%), %d differ on the importance "
                + "threshold, max relative difference elsewhere %.3g%n", name, n, equal, 100.0 * equal / n,
                onThreshold, maxRel);
        assertThat(beyond).isZero();
    }

    /**
     * The elements where arcee_fusion's mask differs from the reference's and the importance is
     * within one step of D of the threshold (reference importance, §3.12).
     */
    private static boolean[] thresholdFlips(TensorCase c) {
        DType d = c.work();
        float[] base = c.base();
        float[] other = c.others()[0];
        int row = (int) c.tensor.context().rowLength();
        float[] imp = OtherMethodsReference.importance(d, base, other, row);
        float thr = OtherMethodsReference.threshold(d, imp, imp);
        boolean[] flip = new boolean[imp.length];
        for (int i = 0; i < imp.length; i++) {
            float fused = base[i] + Codec.round(d, other[i] - base[i]);
            boolean oursOn = c.ours[i] == fused && fused != base[i];
            boolean refOn = c.ref[i] == fused && fused != base[i];
            flip[i] = oursOn != refOn && Math.abs(imp[i] - thr) <= Golden.ulpOf(d, thr);
        }
        return flip;
    }

    @Test
    void sceDiffersOnlyInTheChoiceAmongTiedVariances() throws IOException {
        List<TensorCase> cases = run("sce");
        long n = 0;
        long differ = 0;
        long tiedDiffer = 0;
        long tied = 0;
        long splitTensors = 0;
        long[] replay = new long[3];
        for (TensorCase c : cases) {
            DType d = c.work();
            float[] base = c.base();
            float[][] others = c.others();
            float[] var = OtherMethodsReference.variance(d, base, others);
            long k = OtherMethodsReference.sceK(var, c.tensor.context().global("select_topk"));
            boolean[] lowerIndex = OtherMethodsReference.sceSelection(var, k);
            assertThat(c.ours).as("ours vs the lower-index reference, %s", c.tensor.name())
                    .isEqualTo(OtherMethodsReference.sce(d, base, others, lowerIndex));
            float[] sorted = var.clone();
            Arrays.sort(sorted);
            float thr = sorted[(int) (var.length - k)];
            boolean[] mergekit = new boolean[var.length];
            long chosen = 0;
            long group = 0;
            for (int i = 0; i < var.length; i++) {
                boolean atThr = var[i] == thr;
                group += atThr ? 1 : 0;
                mergekit[i] = var[i] > thr || atThr && c.ref[i] != base[i];
                chosen += mergekit[i] ? 1 : 0;
                n++;
                if (Float.floatToIntBits(c.ours[i]) != Float.floatToIntBits(c.ref[i])) {
                    differ++;
                    tiedDiffer += atThr ? 1 : 0;
                }
            }
            tied += group;
            assertThat(chosen).as("mergekit's selection read off its output, %s", c.tensor.name()).isEqualTo(k);
            splitTensors += Arrays.equals(mergekit, lowerIndex) ? 0 : 1;
            long[] r = compare(List.of(new TensorCase(c.tensor, c.inputs,
                    OtherMethodsReference.sce(d, base, others, mergekit), c.ref, c.dtype)));
            for (int j = 0; j < 3; j++) {
                replay[j] += r[j];
            }
        }
        System.out.printf(Locale.ROOT, "sce: %d elements, %d bit-equal (%.5f%%); %d elements tie at a top-k "
                        + "threshold, mergekit chose differently among them in %d of %d tensors; %d differ, %d of them "
                        + "tied, the rest through the mean-square weights; with mergekit's choice replayed: %d "
                        + "bit-equal (%.5f%%), %d beyond one ulp%n", n, n - differ, 100.0 * (n - differ) / n, tied,
                splitTensors, cases.size(), differ, tiedDiffer, replay[1], 100.0 * replay[1] / replay[0], replay[2]);
        assertThat((double) replay[1] / replay[0]).isGreaterThanOrEqualTo(0.9999);
        assertThat(replay[2]).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"sce", "model_stock", "model_stock-filter_wise", "nearswap", "arcee_fusion", "ram",
            "ramplus_tl"})
    void outputDoesNotDependOnThreadsOrChunkSize(String name) throws IOException {
        List<TensorCase> a = run(name, RunOptions.defaults().withThreads(1).withChunk(7), name + "-1");
        List<TensorCase> b = run(name, RunOptions.defaults().withThreads(4).withChunk(1 << 16), name + "-2");
        for (int i = 0; i < a.size(); i++) {
            assertThat(b.get(i).ours).as(a.get(i).tensor.name()).isEqualTo(a.get(i).ours);
        }
    }

    @Test
    void outDtypeOverridesTheFloat32Result() throws IOException {
        String yaml = """
                merge_method: arcee_fusion
                base_model: models/base
                models:
                  - model: models/base
                  - model: models/ft-a
                dtype: float16
                out_dtype: float16
                """;
        Path out = tmp.resolve("f16");
        try (Plan plan = Planner.plan(Recipe.parse(yaml, "arcee.yml"), PlanOptions.defaults()
                .withWorkDir(Golden.root()))) {
            Executor.run(plan, out, RunOptions.defaults());
        }
        Map<String, DType> types = new LinkedHashMap<>();
        Map<String, float[]> ours = Golden.load(out, types);
        Map<String, float[]> ref = Golden.load(Golden.caseDir("arcee_fusion").resolve("out"), new LinkedHashMap<>());
        assertThat(types.values()).containsOnly(DType.F16);
        ref.forEach((name, v) -> {
            float[] rounded = v.clone();
            Codec.round(DType.F16, rounded, 0, rounded.length);
            assertThat(ours.get(name)).as(name).isEqualTo(rounded);
        });
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "nearswap|ft-a ft-b|t: 0.001|merges exactly two models",
            "arcee_fusion|ft-a ft-b||merges exactly two models",
            "model_stock|ft-a||at least two other models, got 1",
            "sce|ft-a ft-b|select_topk: 0|select_topk must lie in (0, 1]",
            "nearswap|ft-a|t: -0.5|t must be a positive distance scale"})
    void plannerRefusesBadRecipes(String method, String models, String params, String message) {
        StringBuilder yaml = new StringBuilder("merge_method: " + method + "\nbase_model: models/base\nmodels:\n");
        for (String m : models.split(" ")) {
            yaml.append("  - model: models/").append(m).append('\n');
        }
        if (params != null) {
            yaml.append("parameters:\n  ").append(params).append('\n');
        }
        assertThatThrownBy(() -> Planner.plan(Recipe.parse(yaml.toString(), "bad.yml"),
                PlanOptions.defaults().withWorkDir(Golden.root())).close())
                .isInstanceOfSatisfying(AmalgamException.class, e -> {
                    assertThat(e.kind()).isEqualTo(AmalgamException.Kind.RECIPE);
                    assertThat(e.getMessage()).contains(message);
                });
    }

    /** {elements, bit-equal, beyond one ulp of the reference's dtype}. */
    private static long[] compare(List<TensorCase> cases) {
        long n = 0;
        long equal = 0;
        long beyond = 0;
        for (TensorCase c : cases) {
            for (int i = 0; i < c.ours.length; i++) {
                n++;
                if (Float.floatToIntBits(c.ours[i]) == Float.floatToIntBits(c.ref[i])) {
                    equal++;
                } else if (Math.abs((double) c.ours[i] - c.ref[i]) > Golden.ulpOf(c.dtype, c.ref[i])) {
                    beyond++;
                }
            }
        }
        return new long[]{n, equal, beyond};
    }

    private List<TensorCase> run(String name) throws IOException {
        return run(name, RunOptions.defaults(), name);
    }

    private List<TensorCase> run(String name, RunOptions options, String outName) throws IOException {
        Path dir = Golden.caseDir(name);
        Path out = tmp.resolve(outName);
        List<TensorCase> result = new ArrayList<>();
        try (Plan plan = Planner.plan(Recipe.parse(dir.resolve("config.yml")),
                PlanOptions.defaults().withWorkDir(Golden.root()))) {
            Executor.run(plan, out, options);
            Map<String, DType> ourTypes = new LinkedHashMap<>();
            Map<String, DType> refTypes = new LinkedHashMap<>();
            Map<String, float[]> ours = Golden.load(out, ourTypes);
            Map<String, float[]> ref = Golden.load(dir.resolve("out"), refTypes);
            assertThat(ourTypes).isEqualTo(refTypes);
            for (OutputTensor t : plan.tensors()) {
                float[][] inputs = new float[t.operands().size()][];
                for (int k = 0; k < inputs.length; k++) {
                    Operand op = t.operands().get(k);
                    TensorInfo info = op.tensor().info();
                    float[] v = new float[(int) info.numel()];
                    Codec.decode(info.dtype(), op.tensor().data(), 0, v, 0, v.length);
                    Codec.round(t.context().workDtype(), v, 0, v.length);
                    inputs[k] = v;
                }
                result.add(new TensorCase(t, inputs, ours.get(t.name()), ref.get(t.name()), refTypes.get(t.name())));
            }
        }
        return result;
    }
}
