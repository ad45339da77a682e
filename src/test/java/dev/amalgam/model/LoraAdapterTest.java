package dev.amalgam.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.exec.Executor;
import dev.amalgam.exec.RunOptions;
import dev.amalgam.exec.RunSummary;
import dev.amalgam.golden.Golden;
import dev.amalgam.io.DType;
import dev.amalgam.io.SafetensorsWriter;
import dev.amalgam.io.TorchWriter;
import dev.amalgam.kernel.Codec;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.PlanOptions;
import dev.amalgam.plan.Planner;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.synth.Synth;
import dev.amalgam.synth.SynthSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code model+lora} references: PEFT adapters applied while the base model is read. The expected
 * values follow PEFT's merge with torch on the CPU — {@code round(W + scale·(B·A))} with the
 * product summed over the rank by fused multiply-adds in float32 — computed here matrix by matrix,
 * independently of the executor's chunking (the merges below use odd chunk sizes).
 */
class LoraAdapterTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** A tensor to write: name, dtype, shape, values. */
    private record T(String name, DType dtype, long[] shape, float[] values) {
    }

    private static float[] gaussian(long seed, long n, double std) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (std * r.nextGaussian());
        }
        return v;
    }

    private static T t(String name, long seed, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return new T(name, DType.F32, shape, gaussian(seed, n, 0.05));
    }

    private static void writeSafetensors(Path file, List<T> tensors) throws IOException {
        Files.createDirectories(file.getParent());
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        tensors.forEach(x -> entries.add(new SafetensorsWriter.Entry(x.name(), x.dtype(), x.shape())));
        try (SafetensorsWriter w = SafetensorsWriter.create(file, entries, Map.of("format", "pt"));
             Arena arena = Arena.ofConfined()) {
            for (T x : tensors) {
                MemorySegment buf = arena.allocate((long) x.values().length * x.dtype().byteSize());
                Codec.encode(x.dtype(), x.values(), 0, x.values().length, buf, 0);
                w.write(x.name(), 0, buf);
            }
            w.finish();
        }
    }

    private static Path adapter(Path dir, Map<String, Object> config, List<T> tensors) throws IOException {
        writeSafetensors(dir.resolve("adapter_model.safetensors"), tensors);
        Map<String, Object> c = new LinkedHashMap<>(Map.of("peft_type", "LORA", "r", 4, "lora_alpha", 8,
                "task_type", "CAUSAL_LM"));
        c.putAll(config);
        Files.writeString(dir.resolve("adapter_config.json"), JSON.writeValueAsString(c));
        return dir;
    }

    private Path base(String arch, DType dtype, boolean tied) {
        Path dir = tmp.resolve("base");
        Synth.write(new SynthSpec(arch, 32, 48, 2, 4, 2, 64, dtype, 1, tied, 3, null, 0), dir);
        return dir;
    }

    private RunSummary merge(String recipe, PlanOptions po, List<String> warnings) {
        Recipe r = Recipe.parse(recipe, "r.yml");
        try (Plan plan = Planner.plan(r, po.withWorkDir(tmp))) {
            warnings.addAll(plan.warnings());
            return Executor.run(plan, tmp.resolve("out"), RunOptions.defaults().withChunk(37).withThreads(3));
        }
    }

    private RunSummary merge(String recipe) {
        return merge(recipe, PlanOptions.defaults(), new ArrayList<>());
    }

    /**
     * W + scale·(B·A) rounded to {@code dt}; W {@code (out, in)}, or {@code (in, out)} when
     * transposed; A {@code (r, in)}, B {@code (out, r)}.
     */
    private static float[] expected(float[] w, float[] a, float[] b, int r, int out, int in, float scale,
                                    boolean transposed, DType dt) {
        float[] res = new float[w.length];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                float acc = 0f;
                double exact = 0;
                for (int k = 0; k < r; k++) {
                    acc = Math.fma(b[o * r + k], a[k * in + i], acc);
                    exact += (double) b[o * r + k] * a[k * in + i];
                }
                int at = transposed ? i * out + o : o * in + i;
                res[at] = Codec.round(dt, w[at] + acc * scale);
                float exactResult = Codec.round(dt, (float) (w[at] + exact * scale));
                assertThat(Math.abs(res[at] - exactResult)).isLessThanOrEqualTo((float) Golden.ulpOf(dt, res[at]));
            }
        }
        return res;
    }

    private static Map<String, float[]> load(Path dir) throws IOException {
        return Golden.load(dir, new HashMap<>());
    }

    @Test
    void rsLoraWithRankAndAlphaPatterns() throws IOException {
        Path base = base("LlamaForCausalLM", DType.F16, false);
        String p = "base_model.model.model.layers.";
        List<T> w = new ArrayList<>();
        for (int l = 0; l < 2; l++) {
            w.add(t(p + l + ".self_attn.q_proj.lora_A.weight", 10 + l, 4, 32));
            w.add(t(p + l + ".self_attn.q_proj.lora_B.weight", 20 + l, 32, 4));
            w.add(t(p + l + ".mlp.down_proj.lora_A.weight", 30 + l, 2, 48));
            w.add(t(p + l + ".mlp.down_proj.lora_B.weight", 40 + l, 32, 2));
        }
        adapter(tmp.resolve("ad"), Map.of("use_rslora", true, "target_modules", List.of("q_proj", "down_proj"),
                "rank_pattern", Map.of("down_proj", 2), "alpha_pattern", Map.of("layers\\.1\\.self_attn\\.q_proj", 3)), w);
        RunSummary s = merge("merge_method: linear\nmodels:\n  - model: base+ad\n    parameters: {weight: 1.0}\n");
        assertThat(s.unusedInputs()).isEmpty();
        Map<String, float[]> in = load(base);
        Map<String, float[]> out = load(tmp.resolve("out"));
        Map<String, float[]> ad = new HashMap<>();
        w.forEach(x -> ad.put(x.name(), x.values()));
        for (int l = 0; l < 2; l++) {
            String q = "model.layers." + l + ".self_attn.q_proj.weight";
            float qScale = (float) ((l == 1 ? 3 : 8) / Math.sqrt(4));
            assertThat(out.get(q)).isEqualTo(expected(in.get(q), ad.get(p + l + ".self_attn.q_proj.lora_A.weight"),
                    ad.get(p + l + ".self_attn.q_proj.lora_B.weight"), 4, 32, 32, qScale, false, DType.F16));
            String d = "model.layers." + l + ".mlp.down_proj.weight";
            assertThat(out.get(d)).isEqualTo(expected(in.get(d), ad.get(p + l + ".mlp.down_proj.lora_A.weight"),
                    ad.get(p + l + ".mlp.down_proj.lora_B.weight"), 2, 32, 48, (float) (8 / Math.sqrt(2)), false,
                    DType.F16));
            assertThat(out.get(q)).isNotEqualTo(in.get(q));
        }
        in.forEach((n, v) -> {
            if (!n.endsWith("q_proj.weight") && !n.endsWith("down_proj.weight")) {
                assertThat(out.get(n)).as(n).isEqualTo(v);
            }
        });
    }

    @Test
    void fanInFanOutConv1DAndEmbeddingsOnGpt2() throws IOException {
        Path base = base("GPT2LMHeadModel", DType.BF16, true);
        String p = "base_model.model.transformer.h.0.";
        List<T> w = List.of(
                t(p + "attn.c_attn.lora_A.weight", 1, 4, 32), t(p + "attn.c_attn.lora_B.weight", 2, 96, 4),
                t(p + "attn.c_proj.lora_A.weight", 3, 4, 32), t(p + "attn.c_proj.lora_B.weight", 4, 32, 4),
                t(p + "mlp.c_proj.lora_A.weight", 5, 4, 48), t(p + "mlp.c_proj.lora_B.weight", 6, 32, 4),
                t("base_model.model.transformer.wte.lora_embedding_A", 7, 4, 64),
                t("base_model.model.transformer.wte.lora_embedding_B", 8, 32, 4));
        adapter(tmp.resolve("ad"), Map.of("fan_in_fan_out", true, "lora_alpha", 16,
                "target_modules", List.of("c_attn", "c_proj", "wte")), w);
        merge("merge_method: linear\nmodels:\n  - model: base+ad\n    parameters: {weight: 1.0}\n");
        Map<String, float[]> in = load(base);
        Map<String, float[]> out = load(tmp.resolve("out"));
        String h = "transformer.h.0.";
        assertThat(out.get(h + "attn.c_attn.weight")).isEqualTo(expected(in.get(h + "attn.c_attn.weight"),
                w.get(0).values(), w.get(1).values(), 4, 96, 32, 4f, true, DType.BF16));
        assertThat(out.get(h + "attn.c_proj.weight")).isEqualTo(expected(in.get(h + "attn.c_proj.weight"),
                w.get(2).values(), w.get(3).values(), 4, 32, 32, 4f, true, DType.BF16));
        assertThat(out.get(h + "mlp.c_proj.weight")).isEqualTo(expected(in.get(h + "mlp.c_proj.weight"),
                w.get(4).values(), w.get(5).values(), 4, 32, 48, 4f, true, DType.BF16));
        // an embedding's update is (B·A)ᵀ: A is (r, vocab), B (dim, r)
        assertThat(out.get("transformer.wte.weight")).isEqualTo(expected(in.get("transformer.wte.weight"),
                w.get(6).values(), w.get(7).values(), 4, 32, 64, 4f, true, DType.BF16));
        assertThat(out.get("transformer.h.1.attn.c_attn.weight")).isEqualTo(in.get("transformer.h.1.attn.c_attn.weight"));
    }

    @Test
    void modulesToSaveNamedAdaptersAndLoraBias() throws IOException {
        Path base = base("Qwen2ForCausalLM", DType.F16, false);
        String p = "base_model.model.model.layers.0.self_attn.";
        List<T> w = List.of(
                t(p + "q_proj.lora_A.default.weight", 1, 4, 32), t(p + "q_proj.lora_B.default.weight", 2, 32, 4),
                t(p + "q_proj.lora_B.default.bias", 3, 32),
                t("base_model.model.lm_head.weight", 4, 64, 32),
                t("base_model.model.model.norm.modules_to_save.default.weight", 5, 32));
        adapter(tmp.resolve("ad"), Map.of("lora_bias", true, "target_modules", List.of("q_proj"),
                "modules_to_save", List.of("lm_head", "norm")), w);
        RunSummary s = merge("merge_method: linear\nmodels:\n  - model: base+ad\n    parameters: {weight: 1.0}\n");
        assertThat(s.unusedInputs()).isEmpty();
        Map<String, float[]> in = load(base);
        Map<String, float[]> out = load(tmp.resolve("out"));
        assertThat(out.get("model.layers.0.self_attn.q_proj.weight")).isEqualTo(expected(
                in.get("model.layers.0.self_attn.q_proj.weight"), w.get(0).values(), w.get(1).values(), 4, 32, 32,
                2f, false, DType.F16));
        float[] bias = in.get("model.layers.0.self_attn.q_proj.bias");
        float[] lb = w.get(2).values();
        for (int i = 0; i < bias.length; i++) {
            assertThat(out.get("model.layers.0.self_attn.q_proj.bias")[i]).isEqualTo(Codec.round(DType.F16, bias[i] + lb[i] * 2f));
        }
        for (String n : List.of("lm_head.weight", "model.norm.weight")) {
            float[] v = (n.startsWith("lm") ? w.get(3) : w.get(4)).values().clone();
            Codec.round(DType.F16, v, 0, v.length);
            assertThat(out.get(n)).as(n + " replaced by the adapter, in the base's dtype").isEqualTo(v);
        }
        assertThat(out.get("model.embed_tokens.weight")).isEqualTo(in.get("model.embed_tokens.weight"));
    }

    @Test
    void binAdapterUntargetedWeightsAndUnmatchedTargetsWarn() throws IOException {
        Path base = base("MistralForCausalLM", DType.F16, false);
        String p = "base_model.model.model.layers.1.self_attn.";
        List<T> w = List.of(t(p + "q_proj.lora_A.weight", 1, 4, 32), t(p + "q_proj.lora_B.weight", 2, 32, 4),
                t(p + "v_proj.lora_A.weight", 3, 4, 32), t(p + "v_proj.lora_B.weight", 4, 16, 4));
        Path ad = tmp.resolve("ad");
        adapter(ad, Map.of("target_modules", List.of("q_proj", "qkv_proj")), w);
        Files.delete(ad.resolve("adapter_model.safetensors"));
        List<TorchWriter.View> views = new ArrayList<>();
        for (int i = 0; i < w.size(); i++) {
            byte[] bytes = new byte[w.get(i).values().length * 4];
            java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(w.get(i).values());
            views.add(TorchWriter.View.contiguous(w.get(i).name(), new TorchWriter.Storage(Integer.toString(i), DType.F32,
                    bytes), 0, w.get(i).shape()));
        }
        TorchWriter.save(ad.resolve("adapter_model.bin"), views);
        List<String> warnings = new ArrayList<>();
        merge("merge_method: linear\nmodels:\n  - model: base+ad\n    parameters: {weight: 1.0}\n",
                PlanOptions.defaults(), warnings);
        assertThat(warnings).anyMatch(x -> x.contains("1 module(s) with weights are not in its target_modules and are "
                + "ignored") && x.contains("model.layers.1.self_attn.v_proj"));
        assertThat(warnings).anyMatch(x -> x.contains("target_modules entry 'qkv_proj' matches no module of base"));
        Map<String, float[]> in = load(base);
        Map<String, float[]> out = load(tmp.resolve("out"));
        String q = "model.layers.1.self_attn.q_proj.weight";
        assertThat(out.get(q)).isEqualTo(expected(in.get(q), w.get(0).values(), w.get(1).values(), 4, 32, 32, 2f,
                false, DType.F16));
        assertThat(out.get("model.layers.1.self_attn.v_proj.weight"))
                .isEqualTo(in.get("model.layers.1.self_attn.v_proj.weight"));
    }

    @Test
    void loraMergeDtypeReadsTheWholeModelInThatDtype() throws IOException {
        Path base = base("LlamaForCausalLM", DType.F16, false);
        String p = "base_model.model.model.layers.0.mlp.";
        List<T> w = List.of(t(p + "up_proj.lora_A.weight", 1, 4, 32), t(p + "up_proj.lora_B.weight", 2, 48, 4));
        adapter(tmp.resolve("ad"), Map.of("target_modules", "model\\.layers\\.\\d+\\.mlp\\.up_proj"), w);
        Path recipe = tmp.resolve("r.yml");
        Files.writeString(recipe, "merge_method: linear\nmodels:\n  - model: base+ad\n    parameters: {weight: 1.0}\n");
        Golden.Run run = Golden.cli("merge", recipe.toString(), tmp.resolve("out").toString(), "--quiet",
                "--lora-merge-dtype", "bfloat16", "--lora-merge-cache", tmp.resolve("cache").toString());
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.err()).contains("note: --lora-merge-cache: Amalgam applies LoRA adapters while reading");
        assertThat(tmp.resolve("cache")).doesNotExist();
        Map<String, DType> dt = new HashMap<>();
        Map<String, float[]> out = Golden.load(tmp.resolve("out"), dt);
        assertThat(dt.values()).containsOnly(DType.BF16);
        Map<String, float[]> in = load(base);
        String up = "model.layers.0.mlp.up_proj.weight";
        float[] w16 = in.get(up).clone();
        Codec.round(DType.BF16, w16, 0, w16.length);
        assertThat(out.get(up)).isEqualTo(expected(w16, w.get(0).values(), w.get(1).values(), 4, 48, 32, 2f, false,
                DType.BF16));
        float[] norm = in.get("model.norm.weight").clone();
        Codec.round(DType.BF16, norm, 0, norm.length);
        assertThat(out.get("model.norm.weight")).isEqualTo(norm);
        assertThat(JSON.readTree(tmp.resolve("out/config.json").toFile()).get("torch_dtype").asText()).isEqualTo("bfloat16");
    }

    @Test
    void adapterFromTheHuggingFaceCacheAtARevision() throws IOException {
        base("LlamaForCausalLM", DType.F16, false);
        Path cache = tmp.resolve("hub");
        Path repo = cache.resolve("models--org--adapter");
        String commit = "0123456789abcdef0123456789abcdef01234567";
        String p = "base_model.model.model.layers.0.self_attn.";
        adapter(repo.resolve("snapshots").resolve(commit), Map.of("target_modules", List.of("k_proj")),
                List.of(t(p + "k_proj.lora_A.weight", 1, 4, 32), t(p + "k_proj.lora_B.weight", 2, 16, 4)));
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/v1"), commit);
        merge("merge_method: linear\nmodels:\n  - model: base+org/adapter@v1\n    parameters: {weight: 1.0}\n",
                PlanOptions.defaults().withHubCache(cache), new ArrayList<>());
        String card = Files.readString(tmp.resolve("out/README.md"));
        assertThat(card).contains("* base + [org/adapter](https://huggingface.co/org/adapter)")
                .contains("base_model:\n- org/adapter\n");
        assertThat(load(tmp.resolve("out")).get("model.layers.0.self_attn.k_proj.weight"))
                .isNotEqualTo(load(tmp.resolve("base")).get("model.layers.0.self_attn.k_proj.weight"));
    }

    // ----------------------------------------------------------------------------- bad adapters

    private AmalgamException planError(Map<String, Object> config, List<T> w, Consumer<Path> damage) throws IOException {
        if (!Files.exists(tmp.resolve("base"))) {
            base("LlamaForCausalLM", DType.F16, false);
        }
        String name = "ad" + adapters++;
        Path ad = adapter(tmp.resolve(name), config, w);
        damage.accept(ad);
        Recipe r = Recipe.parse("merge_method: linear\nmodels:\n  - model: base+" + name
                + "\n    parameters: {weight: 1.0}\n", "r.yml");
        try {
            Planner.plan(r, PlanOptions.defaults().withWorkDir(tmp)).close();
        } catch (AmalgamException e) {
            return e;
        }
        throw new AssertionError("the plan was accepted");
    }

    private int adapters;

    private static final String Q = "base_model.model.model.layers.0.self_attn.q_proj.";

    @Test
    void wrongShapesAreLocatedInTheAdapter() throws IOException {
        AmalgamException e = planError(Map.of(), List.of(t(Q + "lora_A.weight", 1, 4, 32),
                t(Q + "lora_B.weight", 2, 48, 4)), d -> { });
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.SHAPE);
        assertThat(e.getMessage()).contains("[48, 32] update").contains("model.layers.0.self_attn.q_proj.weight [32, 32]");
        assertThat(e.where().file()).endsWith("adapter_model.safetensors");
        assertThat(e.where().tensor()).isEqualTo(Q + "lora_A.weight");
    }

    @Test
    void aRankOtherThanTheConfigsIsRefused() throws IOException {
        AmalgamException e = planError(Map.of("r", 8), List.of(t(Q + "lora_A.weight", 1, 4, 32),
                t(Q + "lora_B.weight", 2, 32, 4)), d -> { });
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.SHAPE);
        assertThat(e.getMessage()).contains("rank 4").contains("rank 8");
        assertThat(e.where().tensor()).isEqualTo(Q + "lora_A.weight");
    }

    @Test
    void aModuleTheBaseLacksIsRefused() throws IOException {
        String x = "base_model.model.model.layers.0.self_attn.qq_proj.";
        AmalgamException e = planError(Map.of(), List.of(t(x + "lora_A.weight", 1, 4, 32),
                t(x + "lora_B.weight", 2, 32, 4)), d -> { });
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.MISSING_TENSOR);
        assertThat(e.getMessage()).contains("model.layers.0.self_attn.qq_proj.weight").contains("base");
    }

    @Test
    void aMissingFactorIsRefused() throws IOException {
        AmalgamException e = planError(Map.of(), List.of(t(Q + "lora_A.weight", 1, 4, 32)), d -> { });
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
        assertThat(e.getMessage()).contains("no lora_B");
    }

    @Test
    void doraAndBadFieldsAreLocatedInTheConfig() throws IOException {
        List<T> ok = List.of(t(Q + "lora_A.weight", 1, 4, 32), t(Q + "lora_B.weight", 2, 32, 4));
        AmalgamException dora = planError(Map.of("use_dora", true), ok, d -> { });
        assertThat(dora.where().file()).endsWith("adapter_config.json");
        assertThat(dora.where().keyPath()).isEqualTo("use_dora");
        assertThat(dora.hint()).contains("merge_and_unload");
        AmalgamException r = planError(Map.of("r", "four"), ok, d -> { });
        assertThat(r.kind()).isEqualTo(AmalgamException.Kind.INPUT);
        assertThat(r.where().keyPath()).isEqualTo("r");
        AmalgamException regex = planError(Map.of("target_modules", "q_proj(("), ok, d -> { });
        assertThat(regex.where().keyPath()).isEqualTo("target_modules");
    }

    @Test
    void aDirectoryWithoutAdapterConfigIsNotAnAdapter() throws IOException {
        AmalgamException e = planError(Map.of(), List.of(t(Q + "lora_A.weight", 1, 4, 32),
                t(Q + "lora_B.weight", 2, 32, 4)), d -> {
                    try {
                        Files.delete(d.resolve("adapter_config.json"));
                    } catch (IOException x) {
                        throw new IllegalStateException(x);
                    }
                });
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
        assertThat(e.getMessage()).contains("is not a LoRA adapter").contains("adapter_config.json");
    }
}
