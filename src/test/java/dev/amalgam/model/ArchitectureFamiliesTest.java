package dev.amalgam.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.exec.Executor;
import dev.amalgam.exec.RunOptions;
import dev.amalgam.exec.RunSummary;
import dev.amalgam.golden.Golden;
import dev.amalgam.io.DType;
import dev.amalgam.io.SafetensorsFile;
import dev.amalgam.io.SafetensorsWriter;
import dev.amalgam.io.TensorInfo;
import dev.amalgam.kernel.Codec;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.PlanOptions;
import dev.amalgam.plan.Planner;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.synth.Synth;
import dev.amalgam.synth.SynthSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every model family Amalgam names, as tiny checkpoints with the family's real tensor names written
 * by our own writer: the structure inferred, a linear merge of the model and a derived copy, and a
 * passthrough slice — each with every input tensor accounted for and an output that our reader
 * loads with the right layer count in its config.
 */
class ArchitectureFamiliesTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** Layer prefix, config key of the layer count, and a tensor of the pre- and post-layer groups. */
    private record Expect(String prefix, String key, String pre, String post) {
    }

    private static final Map<String, Expect> EXPECT = Map.ofEntries(
            Map.entry("LlamaForCausalLM", new Expect("model.layers", "num_hidden_layers", "model.embed_tokens.weight", "lm_head.weight")),
            Map.entry("MistralForCausalLM", new Expect("model.layers", "num_hidden_layers", "model.embed_tokens.weight", "lm_head.weight")),
            Map.entry("Qwen2ForCausalLM", new Expect("model.layers", "num_hidden_layers", "model.embed_tokens.weight", "lm_head.weight")),
            Map.entry("Qwen3ForCausalLM", new Expect("model.layers", "num_hidden_layers", "model.embed_tokens.weight", "lm_head.weight")),
            Map.entry("GemmaForCausalLM", new Expect("model.layers", "num_hidden_layers", "model.embed_tokens.weight", "model.norm.weight")),
            Map.entry("Gemma2ForCausalLM", new Expect("model.layers", "num_hidden_layers", "model.embed_tokens.weight", "model.norm.weight")),
            Map.entry("Gemma3ForCausalLM", new Expect("model.layers", "num_hidden_layers", "model.embed_tokens.weight", "model.norm.weight")),
            Map.entry("Phi3ForCausalLM", new Expect("model.layers", "num_hidden_layers", "model.embed_tokens.weight", "lm_head.weight")),
            Map.entry("StableLmForCausalLM", new Expect("model.layers", "num_hidden_layers", "model.embed_tokens.weight", "model.norm.bias")),
            Map.entry("CohereForCausalLM", new Expect("model.layers", "num_hidden_layers", "model.embed_tokens.weight", "model.norm.weight")),
            Map.entry("GPT2LMHeadModel", new Expect("transformer.h", "n_layer", "transformer.wpe.weight", "transformer.ln_f.bias")),
            Map.entry("GPTNeoXForCausalLM", new Expect("gpt_neox.layers", "num_hidden_layers", "gpt_neox.embed_in.weight", "embed_out.weight")),
            Map.entry("MixtralForCausalLM", new Expect("model.layers", "num_hidden_layers", "model.embed_tokens.weight", "lm_head.weight")),
            Map.entry("MixtralForCausalLM/fused", new Expect("model.layers", "num_hidden_layers", "model.embed_tokens.weight", "lm_head.weight")),
            Map.entry("LlavaForConditionalGeneration", new Expect("language_model.model.layers", "text_config.num_hidden_layers",
                    "language_model.model.embed_tokens.weight", "language_model.lm_head.weight")),
            Map.entry("BertForMaskedLM", new Expect("bert.encoder.layer", "num_hidden_layers", "bert.embeddings.position_ids",
                    "cls.predictions.transform.LayerNorm.weight")));

    private Path synth(String arch, String name) {
        Path dir = tmp.resolve(name);
        Synth.write(new SynthSpec(arch, 32, 48, 3, 4, 2, 96, DType.BF16, 1, false, 7, null, 0), dir);
        return dir;
    }

    @Test
    void everyFamilyIsCovered() {
        assertThat(EXPECT.keySet()).containsExactlyInAnyOrderElementsOf(Synth.SUPPORTED_ARCHITECTURES);
    }

    @ParameterizedTest
    @ValueSource(strings = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM",
            "GemmaForCausalLM", "Gemma2ForCausalLM", "Gemma3ForCausalLM", "Phi3ForCausalLM", "StableLmForCausalLM",
            "CohereForCausalLM", "GPT2LMHeadModel", "GPTNeoXForCausalLM", "MixtralForCausalLM",
            "MixtralForCausalLM/fused", "LlavaForConditionalGeneration", "BertForMaskedLM"})
    void mergesAndSlicesAccountingForEveryTensor(String arch) throws IOException {
        Expect x = EXPECT.get(arch);
        Path a = synth(arch, "a");
        Set<String> names;
        Architecture inf;
        try (Model m = Model.open(a, "a")) {
            names = new TreeSet<>(m.tensors().keySet());
            inf = Architecture.infer(m);
        }
        assertThat(inf.layerPrefix()).isEqualTo(x.prefix());
        assertThat(inf.layerCountKey()).isEqualTo(x.key());
        assertThat(inf.numLayers()).isEqualTo(3);
        assertThat(inf.preWeights()).contains(x.pre());
        assertThat(inf.postWeights()).contains(x.post());
        int perLayer = inf.layerSuffixes(0).size();
        assertThat(inf.layerSuffixes(2)).hasSize(perLayer);
        assertThat(inf.preWeights().size() + inf.postWeights().size() + inf.extraWeights().size() + 3 * perLayer)
                .isEqualTo(names.size());
        boolean vision = arch.startsWith("Llava");
        assertThat(inf.extraWeights().isEmpty()).isEqualTo(!vision);
        if (vision) {
            assertThat(inf.extraWeights()).contains("multi_modal_projector.linear_1.weight",
                    "vision_tower.vision_model.embeddings.patch_embedding.weight",
                    "vision_tower.vision_model.encoder.layers.1.mlp.fc2.bias",
                    "vision_tower.vision_model.post_layernorm.weight")
                    .allMatch(n -> n.startsWith("vision_tower.") || n.startsWith("multi_modal_projector."));
        }

        Path b = tmp.resolve("b");
        Synth.write(SynthSpec.derived(a, 0.01, 2), b);
        RunSummary s = merge("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 0.5}\n"
                + "  - model: b\n    parameters: {weight: 0.5}\n", "merged");
        if (vision) {
            assertThat(s.unusedInputs()).hasSize(inf.extraWeights().size())
                    .allMatch(u -> u.startsWith("b: ") && u.endsWith("(not merged: the output carries this module from a)"));
        } else if (arch.startsWith("Bert")) {
            assertThat(s.unusedInputs()).containsExactly("b: bert.embeddings.position_ids (not merged: integer "
                    + "tensors are taken from one model, here a)");
        } else {
            assertThat(s.unusedInputs()).isEmpty();
        }
        Path merged = tmp.resolve("merged");
        try (Model out = Model.open(merged, "merged")) {
            assertThat(out.tensors().keySet()).isEqualTo(names);
            assertThat(Architecture.infer(out).numLayers()).isEqualTo(3);
        }
        Map<String, DType> dt = new HashMap<>();
        Map<String, float[]> in = Golden.load(a, dt);
        Map<String, float[]> derived = Golden.load(b, new HashMap<>());
        Map<String, float[]> out = Golden.load(merged, new HashMap<>());
        for (String n : names) {
            if (dt.get(n) == DType.I64 || inf.extraWeights().contains(n)) {
                assertThat(out.get(n)).as(n + " is carried from the first model").isEqualTo(in.get(n));
            } else {
                float[] o = out.get(n);
                for (int i = 0; i < o.length; i += 7) {
                    float e = Codec.round(DType.BF16, Codec.round(DType.BF16, in.get(n)[i] * 0.5f)
                            + Codec.round(DType.BF16, derived.get(n)[i] * 0.5f));
                    assertThat(Math.abs(o[i] - e)).as(n).isLessThanOrEqualTo((float) Golden.ulpOf(DType.BF16, e));
                }
            }
        }

        RunSummary sliced = merge("slices:\n  - sources:\n      - model: a\n        layer_range: [1, 3]\n"
                + "merge_method: passthrough\n", "sliced");
        assertThat(sliced.unusedInputs()).hasSize(perLayer)
                .allMatch(u -> u.startsWith("a: " + x.prefix() + ".0.") && u.endsWith("(layer not selected by any layer_range)"));
        Path sl = tmp.resolve("sliced");
        JsonNode cfg = JSON.readTree(sl.resolve("config.json").toFile());
        assertThat(Configs.get(cfg, x.key()).asInt()).isEqualTo(2);
        Map<String, float[]> slice = Golden.load(sl, new HashMap<>());
        try (Model o = Model.open(sl, "sliced")) {
            Architecture oa = Architecture.infer(o);
            assertThat(oa.numLayers()).isEqualTo(2);
            assertThat(oa.observedLayers()).isEqualTo(2);
            assertThat(o.tensors()).hasSize(names.size() - perLayer);
            for (String suffix : inf.layerSuffixes(2)) {
                assertThat(slice.get(x.prefix() + ".1." + suffix)).isEqualTo(in.get(x.prefix() + ".2." + suffix));
            }
        }
    }

    @Test
    void bertKeepsItsInt64PositionIds() throws IOException {
        Path a = synth("BertForMaskedLM", "a");
        Synth.write(SynthSpec.derived(a, 0.01, 2), tmp.resolve("b"));
        merge("merge_method: task_arithmetic\nbase_model: a\nmodels:\n  - model: b\n    parameters: {weight: 1}\n",
                "out");
        try (SafetensorsFile f = SafetensorsFile.open(tmp.resolve("out/model.safetensors"))) {
            TensorInfo t = f.tensor("bert.embeddings.position_ids");
            assertThat(t.dtype()).isEqualTo(DType.I64);
            assertThat(t.shapeString()).isEqualTo("[1, 512]");
            MemorySegment d = f.data(t);
            for (int i = 0; i < 512; i++) {
                assertThat(d.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 8L * i)).isEqualTo(i);
            }
            assertThat(f.tensor("cls.predictions.decoder.weight")).isNull();
        }
    }

    @Test
    void llavaWithoutTextLayerCountIsNotMistakenForItsVisionTower() throws IOException {
        Path a = synth("LlavaForConditionalGeneration", "a");
        ObjectNode cfg = (ObjectNode) JSON.readTree(a.resolve("config.json").toFile());
        ((ObjectNode) cfg.get("text_config")).remove("num_hidden_layers");
        Files.writeString(a.resolve("config.json"), cfg.toPrettyString());
        try (Model m = Model.open(a, "a")) {
            Architecture inf = Architecture.infer(m);
            assertThat(inf.layerPrefix()).isEqualTo("language_model.model.layers");
            assertThat(inf.numLayers()).isEqualTo(3);
            assertThat(inf.layerCountKey()).isEqualTo("text_config.num_hidden_layers");
        }
        merge("slices:\n  - sources:\n      - model: a\n        layer_range: [0, 2]\n  - sources:\n"
                + "      - model: a\n        layer_range: [1, 3]\nmerge_method: passthrough\n", "out");
        JsonNode out = JSON.readTree(tmp.resolve("out/config.json").toFile());
        assertThat(out.at("/text_config/num_hidden_layers").asInt()).isEqualTo(4);
        assertThat(out.at("/vision_config/num_hidden_layers").asInt()).isEqualTo(2);
        try (Model o = Model.open(tmp.resolve("out"), "out")) {
            assertThat(o.tensors().keySet()).filteredOn(n -> n.startsWith("vision_tower.")).hasSize(
                    (int) Golden.load(a, new HashMap<>()).keySet().stream().filter(n -> n.startsWith("vision_tower.")).count());
        }
    }

    @Test
    void perExpertAndFusedMixtralMergeIntoTheFusedLayout() throws IOException {
        Path legacy = synth("MixtralForCausalLM", "legacy");
        Path fused = tmp.resolve("fused");
        writeFused(legacy, fused);
        try (Model l = Model.open(legacy, "legacy"); Model f = Model.open(fused, "fused")) {
            assertThat(ExpertLayout.of(l)).isEqualTo(ExpertLayout.Kind.PER_EXPERT);
            assertThat(ExpertLayout.of(f)).isEqualTo(ExpertLayout.Kind.FUSED);
        }
        Recipe r = Recipe.parse("merge_method: linear\nmodels:\n  - model: legacy\n    parameters: {weight: 0.5}\n"
                + "  - model: fused\n    parameters: {weight: 0.5}\n", "r.yml");
        RunSummary s;
        try (Plan plan = Planner.plan(r, PlanOptions.defaults().withWorkDir(tmp))) {
            assertThat(plan.warnings()).anyMatch(w -> w.startsWith("legacy stores one tensor per expert"));
            s = Executor.run(plan, tmp.resolve("out"), RunOptions.defaults());
        }
        assertThat(s.unusedInputs()).isEmpty();
        Map<String, float[]> out = Golden.load(tmp.resolve("out"), new HashMap<>());
        Map<String, float[]> ref = Golden.load(fused, new HashMap<>());
        assertThat(out.keySet()).isEqualTo(ref.keySet()).contains("model.layers.2.mlp.experts.gate_up_proj");
        ref.forEach((n, v) -> assertThat(out.get(n)).as(n).isEqualTo(v));

        RunSummary sliced = merge("slices:\n  - sources:\n      - model: legacy\n        layer_range: [0, 1]\n"
                + "      - model: fused\n        layer_range: [0, 1]\n  - sources:\n      - model: legacy\n"
                + "        layer_range: [2, 3]\n      - model: fused\n        layer_range: [2, 3]\n"
                + "merge_method: linear\nparameters: {weight: 1}\n", "sliced");
        assertThat(sliced.unusedInputs()).filteredOn(u -> u.startsWith("legacy: "))
                .contains("legacy: model.layers.1.block_sparse_moe.experts.3.w3.weight (layer not selected by any "
                        + "layer_range)")
                .noneMatch(u -> u.contains("mlp.experts.gate_up_proj"));
    }

    @Test
    void perExpertModelsKeepTheirLayout() throws IOException {
        Path a = synth("MixtralForCausalLM", "a");
        Synth.write(SynthSpec.derived(a, 0.01, 2), tmp.resolve("b"));
        merge("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n"
                + "    parameters: {weight: 1}\n", "out");
        try (Model o = Model.open(tmp.resolve("out"), "out")) {
            assertThat(o.tensors()).containsKey("model.layers.0.block_sparse_moe.experts.3.w2.weight")
                    .doesNotContainKey("model.layers.0.mlp.experts.gate_up_proj");
        }
    }

    /** Writes {@code legacy}'s experts fused as transformers 5 does: per expert, gate (w1) rows then up (w3) rows. */
    private static void writeFused(Path legacy, Path out) throws IOException {
        Files.createDirectories(out);
        Files.copy(legacy.resolve("config.json"), out.resolve("config.json"));
        Map<String, DType> dt = new HashMap<>();
        Map<String, float[]> in = Golden.load(legacy, dt);
        Map<String, long[]> shapes = new HashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(legacy.resolve("model.safetensors"))) {
            f.tensors().forEach(t -> shapes.put(t.name(), t.shape()));
        }
        Map<String, float[]> values = new LinkedHashMap<>();
        Map<String, long[]> outShapes = new LinkedHashMap<>();
        for (String n : new TreeSet<>(in.keySet())) {
            if (n.contains(".block_sparse_moe.experts.")) {
                continue;
            }
            String p = n.contains(".block_sparse_moe.") ? n.substring(0, n.indexOf(".block_sparse_moe.")) : null;
            if (p == null) {
                values.put(n, in.get(n));
                outShapes.put(n, shapes.get(n));
                continue;
            }
            values.put(p + ".mlp.gate.weight", in.get(n));
            outShapes.put(p + ".mlp.gate.weight", shapes.get(n));
            List<float[]> gateUp = new ArrayList<>();
            List<float[]> down = new ArrayList<>();
            for (int e = 0; e < 4; e++) {
                String x = p + ".block_sparse_moe.experts." + e + ".";
                gateUp.add(in.get(x + "w1.weight"));
                gateUp.add(in.get(x + "w3.weight"));
                down.add(in.get(x + "w2.weight"));
            }
            long[] w1 = shapes.get(p + ".block_sparse_moe.experts.0.w1.weight");
            long[] w2 = shapes.get(p + ".block_sparse_moe.experts.0.w2.weight");
            values.put(p + ".mlp.experts.gate_up_proj", concat(gateUp));
            outShapes.put(p + ".mlp.experts.gate_up_proj", new long[] {4, 2 * w1[0], w1[1]});
            values.put(p + ".mlp.experts.down_proj", concat(down));
            outShapes.put(p + ".mlp.experts.down_proj", new long[] {4, w2[0], w2[1]});
        }
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        outShapes.forEach((n, s) -> entries.add(new SafetensorsWriter.Entry(n, DType.BF16, s)));
        try (SafetensorsWriter w = SafetensorsWriter.create(out.resolve("model.safetensors"), entries, Map.of());
             Arena arena = Arena.ofConfined()) {
            for (Map.Entry<String, float[]> e : values.entrySet()) {
                MemorySegment buf = arena.allocate(2L * e.getValue().length);
                Codec.encode(DType.BF16, e.getValue(), 0, e.getValue().length, buf, 0);
                w.write(e.getKey(), 0, buf);
            }
            w.finish();
        }
    }

    private static float[] concat(List<float[]> parts) {
        int n = parts.stream().mapToInt(p -> p.length).sum();
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    private RunSummary merge(String recipe, String out) {
        Recipe r = Recipe.parse(recipe, "r.yml");
        try (Plan plan = Planner.plan(r, PlanOptions.defaults().withWorkDir(tmp))) {
            return Executor.run(plan, tmp.resolve(out), RunOptions.defaults());
        }
    }

    @Test
    void aBaseTensorTheOutputWouldLoseIsAnError() {
        Synth.write(new SynthSpec("LlamaForCausalLM", 32, 48, 2, 4, 2, 96, DType.BF16, 1, false, 1, null, 0),
                tmp.resolve("untied"));
        Synth.write(new SynthSpec("LlamaForCausalLM", 32, 48, 2, 4, 2, 96, DType.BF16, 1, true, 2, null, 0),
                tmp.resolve("tied"));
        Recipe r = Recipe.parse("slices:\n  - sources:\n      - model: untied\n        layer_range: [0, 1]\n"
                + "  - sources:\n      - model: tied\n        layer_range: [1, 2]\nmerge_method: passthrough\n", "r.yml");
        assertThatThrownBy(() -> Planner.plan(r, PlanOptions.defaults().withWorkDir(tmp)).close())
                .isInstanceOfSatisfying(AmalgamException.class, e -> {
                    assertThat(e.kind()).isEqualTo(AmalgamException.Kind.MISSING_TENSOR);
                    assertThat(e.getMessage()).contains("lm_head.weight").contains("untied");
                    assertThat(e.where().tensor()).isEqualTo("lm_head.weight");
                });
    }

    @Test
    void olderCheckpointNamingIsInferredToo() {
        ObjectNode gpt2 = JSON.createObjectNode().put("n_layer", 2);
        Architecture a = Architecture.infer(List.of("wte.weight", "wpe.weight", "h.0.attn.bias", "h.0.attn.c_attn.weight",
                "h.1.attn.bias", "h.1.attn.c_attn.weight", "ln_f.weight", "ln_f.bias"), gpt2);
        assertThat(a.layerPrefix()).isEqualTo("h");
        assertThat(a.preWeights()).containsExactly("wte.weight", "wpe.weight");
        assertThat(a.postWeights()).containsExactly("ln_f.weight", "ln_f.bias");
        assertThat(a.embeddingMatrix()).isEqualTo("wte.weight");
        ObjectNode neox = JSON.createObjectNode().put("num_hidden_layers", 1);
        Architecture n = Architecture.infer(List.of("gpt_neox.embed_in.weight", "gpt_neox.layers.0.attention.bias",
                "gpt_neox.layers.0.attention.rotary_emb.inv_freq", "gpt_neox.final_layer_norm.weight",
                "embed_out.weight"), neox);
        assertThat(n.preWeights()).containsExactly("gpt_neox.embed_in.weight");
        assertThat(n.postWeights()).containsExactly("gpt_neox.final_layer_norm.weight", "embed_out.weight");
        assertThat(n.layerSuffixes(0)).containsExactly("attention.bias", "attention.rotary_emb.inv_freq");
    }

    @Test
    void unknownLayoutsStillAccountForEveryTensor() {
        assertThat(Architecture.isAuxiliary("model.vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight")).isTrue();
        assertThat(Architecture.isAuxiliary("image_newline")).isTrue();
        assertThat(Architecture.isAuxiliary("model.layers.0.mlp.down_proj.weight")).isFalse();
        List<String> names = List.of("model.language_model.embed_tokens.weight",
                "model.language_model.layers.0.mlp.down_proj.weight", "model.language_model.layers.1.mlp.down_proj.weight",
                "model.language_model.norm.weight", "lm_head.weight",
                "model.vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight",
                "model.vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight",
                "model.vision_tower.vision_model.encoder.layers.2.mlp.fc1.weight",
                "model.multi_modal_projector.linear_1.weight", "image_newline");
        ObjectNode cfg = JSON.createObjectNode();
        cfg.putObject("text_config").put("num_hidden_layers", 2);
        Architecture a = Architecture.infer(names, cfg);
        assertThat(a.layerPrefix()).isEqualTo("model.language_model.layers");
        assertThat(a.preWeights()).containsExactly("model.language_model.embed_tokens.weight");
        assertThat(a.postWeights()).containsExactlyInAnyOrder("model.language_model.norm.weight", "lm_head.weight");
        assertThat(a.extraWeights()).hasSize(5).allMatch(Architecture::isAuxiliary);
        Map<String, Long> groups = names.stream().collect(Collectors.groupingBy(
                n -> a.extraWeights().contains(n) ? "extra" : a.preWeights().contains(n) ? "pre"
                        : a.postWeights().contains(n) ? "post" : "layer", Collectors.counting()));
        assertThat(groups).containsEntry("layer", 2L);
    }
}
