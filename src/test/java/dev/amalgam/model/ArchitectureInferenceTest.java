package dev.amalgam.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.amalgam.exec.Executor;
import dev.amalgam.exec.RunOptions;
import dev.amalgam.exec.RunSummary;
import dev.amalgam.golden.Golden;
import dev.amalgam.io.DType;
import dev.amalgam.plan.OutputTensor;
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
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Layer structure inferred from tensor names and config.json for each model family Amalgam
 * names, with no per-architecture table — and a merge of each that accounts for every tensor.
 */
class ArchitectureInferenceTest {

    @TempDir
    Path tmp;

    private Path synth(String arch, String name, boolean tied, long seed) {
        Path dir = tmp.resolve(name);
        Synth.write(new SynthSpec(arch, 32, 64, 3, 4, 2, 128, DType.BF16, 1, tied, seed, null, 0), dir);
        return dir;
    }

    @ParameterizedTest
    @ValueSource(strings = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM",
            "GemmaForCausalLM", "Phi3ForCausalLM"})
    void infersLayersAndMergesEveryTensor(String arch) throws IOException {
        Path a = synth(arch, "a", false, 1);
        try (Model m = Model.open(a, "a")) {
            Architecture inf = Architecture.infer(m);
            assertThat(inf.layerPrefix()).isEqualTo("model.layers");
            assertThat(inf.numLayers()).isEqualTo(3);
            assertThat(inf.layerCountKey()).isEqualTo("num_hidden_layers");
            assertThat(inf.preWeights()).containsExactly("model.embed_tokens.weight");
            assertThat(inf.postWeights()).contains("model.norm.weight");
            assertThat(inf.extraWeights()).isEmpty();
            assertThat(inf.embeddingMatrix()).isEqualTo("model.embed_tokens.weight");
            int perLayer = inf.layerSuffixes(0).size();
            assertThat(inf.layerSuffixes(2)).hasSize(perLayer);
            assertThat(inf.preWeights().size() + inf.postWeights().size() + 3 * perLayer)
                    .isEqualTo(m.tensors().size());
            if (arch.startsWith("Qwen2")) {
                assertThat(inf.layerSuffixes(0)).contains("self_attn.q_proj.bias");
            }
            if (arch.startsWith("Qwen3")) {
                assertThat(inf.layerSuffixes(0)).contains("self_attn.q_norm.weight");
            }
            if (arch.startsWith("Phi3")) {
                assertThat(inf.layerSuffixes(0)).contains("self_attn.qkv_proj.weight", "mlp.gate_up_proj.weight");
            }
            if (arch.startsWith("Gemma")) {
                assertThat(inf.postWeights()).containsExactly("model.norm.weight");
            } else {
                assertThat(inf.postWeights()).containsExactly("lm_head.weight", "model.norm.weight");
            }
        }
        Path b = tmp.resolve("b");
        Synth.write(SynthSpec.derived(a, 0.01, 2), b);
        RunSummary s = merge("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 0.5}\n"
                + "  - model: b\n    parameters: {weight: 0.5}\ndtype: bfloat16\n");
        assertThat(s.unusedInputs()).isEmpty();
        try (Model m = Model.open(a, "a"); Model out = Model.open(tmp.resolve("out"), "out")) {
            assertThat(out.tensors().keySet()).isEqualTo(m.tensors().keySet());
        }
    }

    @Test
    void tiedModelSuppliesItsEmbeddingAsLmHead() throws IOException {
        Path untied = synth("LlamaForCausalLM", "untied", false, 1);
        Path tied = synth("LlamaForCausalLM", "tied", true, 2);
        try (Model t = Model.open(tied, "tied")) {
            assertThat(t.tensor("lm_head.weight")).isNull();
        }
        Recipe r = Recipe.parse("merge_method: linear\nbase_model: tied\nmodels:\n  - model: tied\n"
                + "    parameters: {weight: 1.0}\n  - model: untied\n    parameters: {weight: 1.0}\n", "r.yml");
        try (Plan plan = Planner.plan(r, PlanOptions.defaults().withWorkDir(tmp))) {
            OutputTensor head = plan.tensors().stream().filter(t -> t.name().equals("lm_head.weight")).findFirst()
                    .orElseThrow();
            assertThat(head.operands()).hasSize(2);
            assertThat(head.operands().get(0).tensor().name()).isEqualTo("model.embed_tokens.weight");
            assertThat(head.operands().get(1).tensor().name()).isEqualTo("lm_head.weight");
            assertThat(plan.outputConfig().get("tie_word_embeddings").asBoolean()).isFalse();
            assertThat(plan.warnings()).anyMatch(w -> w.contains("tie_word_embeddings is set to false"));
            Executor.run(plan, tmp.resolve("out"), RunOptions.defaults());
        }
        Map<String, DType> dt = new HashMap<>();
        Map<String, float[]> o = Golden.load(tmp.resolve("out"), dt);
        Map<String, float[]> ti = Golden.load(tied, dt);
        Map<String, float[]> un = Golden.load(untied, dt);
        float[] head = o.get("lm_head.weight");
        float[] e = ti.get("model.embed_tokens.weight");
        float[] h = un.get("lm_head.weight");
        for (int i = 0; i < head.length; i += 97) {
            float expected = dev.amalgam.kernel.Codec.round(DType.BF16,
                    dev.amalgam.kernel.Codec.round(DType.BF16, e[i] + h[i]) / 2f);
            assertThat(head[i]).isEqualTo(expected);
        }
    }

    @Test
    void allTiedModelsWriteNoLmHead() throws IOException {
        synth("LlamaForCausalLM", "a", true, 1);
        synth("LlamaForCausalLM", "b", true, 2);
        merge("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n"
                + "    parameters: {weight: 1}\n");
        try (Model out = Model.open(tmp.resolve("out"), "out")) {
            assertThat(out.tensor("lm_head.weight")).isNull();
            assertThat(out.config().get("tie_word_embeddings").asBoolean()).isTrue();
        }
    }

    @Test
    void unselectedLayersAreReportedNotDropped() throws IOException {
        synth("MistralForCausalLM", "a", false, 1);
        RunSummary s = merge("slices:\n  - sources:\n      - model: a\n        layer_range: [1, 3]\n"
                + "merge_method: passthrough\n");
        assertThat(s.unusedInputs()).hasSize(9)
                .allMatch(u -> u.contains("model.layers.0.") && u.endsWith("(layer not selected by any layer_range)"));
        var cfg = new ObjectMapper().readTree(tmp.resolve("out/config.json").toFile());
        assertThat(cfg.get("num_hidden_layers").asInt()).isEqualTo(2);
    }

    private RunSummary merge(String recipe) {
        Recipe r = Recipe.parse(recipe, "r.yml");
        try (Plan plan = Planner.plan(r, PlanOptions.defaults().withWorkDir(tmp))) {
            return Executor.run(plan, tmp.resolve("out"), RunOptions.defaults());
        }
    }
}
