package dev.amalgam.synth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.io.DType;
import dev.amalgam.io.SafetensorsFile;
import dev.amalgam.io.SafetensorsIndex;
import dev.amalgam.io.TensorInfo;
import dev.amalgam.kernel.Codec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class SynthTest {

    @TempDir
    Path tmp;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Every tensor of a model directory, read through the index when there is one. */
    static Map<String, TensorInfo> tensors(Path dir) {
        Map<String, TensorInfo> out = new TreeMap<>();
        Path index = dir.resolve(SafetensorsIndex.FILE_NAME);
        List<String> files = Files.exists(index)
                ? List.copyOf(new TreeSet<>(SafetensorsIndex.readWeightMap(index).values()))
                : List.of("model.safetensors");
        for (String f : files) {
            try (SafetensorsFile st = SafetensorsFile.open(dir.resolve(f))) {
                for (TensorInfo t : st.tensors()) {
                    out.put(t.name(), t);
                }
            }
        }
        return out;
    }

    /** Every tensor's values as floats. */
    static Map<String, float[]> values(Path dir) {
        Map<String, float[]> out = new HashMap<>();
        Path index = dir.resolve(SafetensorsIndex.FILE_NAME);
        List<String> files = Files.exists(index)
                ? List.copyOf(new TreeSet<>(SafetensorsIndex.readWeightMap(index).values()))
                : List.of("model.safetensors");
        for (String f : files) {
            try (SafetensorsFile st = SafetensorsFile.open(dir.resolve(f))) {
                for (TensorInfo t : st.tensors()) {
                    float[] v = new float[(int) t.numel()];
                    Codec.decode(t.dtype(), st.data(t), 0, v, 0, v.length);
                    out.put(t.name(), v);
                }
            }
        }
        return out;
    }

    static JsonNode json(Path p) throws IOException {
        return JSON.readTree(p.toFile());
    }

    static Path golden(String model) {
        try {
            return Path.of(SynthTest.class.getResource("/golden-models/" + model).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void mistralShardedThreeUntied() throws IOException {
        Path out = tmp.resolve("mistral");
        SynthSpec spec = new SynthSpec("MistralForCausalLM", 64, 120, 4, 4, 2, 512, DType.F16, 3, false, 100, null, 0);
        Synth.Result r = Synth.write(spec, out);

        Map<String, String> weightMap = SafetensorsIndex.readWeightMap(out.resolve(SafetensorsIndex.FILE_NAME));
        assertThat(new TreeSet<>(weightMap.values())).containsExactly("model-00001-of-00003.safetensors",
                "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors");
        assertThat(List.copyOf(weightMap.keySet())).isSorted();
        Map<String, TensorInfo> t = tensors(out);
        assertThat(t).hasSize(2 + 9 * 4 + 1);
        assertThat(t.keySet()).isEqualTo(weightMap.keySet());
        assertThat(t.get("model.embed_tokens.weight").shapeString()).isEqualTo("[512, 64]");
        assertThat(t.get("lm_head.weight").shapeString()).isEqualTo("[512, 64]");
        assertThat(t.get("model.layers.3.self_attn.q_proj.weight").shapeString()).isEqualTo("[64, 64]");
        assertThat(t.get("model.layers.3.self_attn.k_proj.weight").shapeString()).isEqualTo("[32, 64]");
        assertThat(t.get("model.layers.3.self_attn.v_proj.weight").shapeString()).isEqualTo("[32, 64]");
        assertThat(t.get("model.layers.0.self_attn.o_proj.weight").shapeString()).isEqualTo("[64, 64]");
        assertThat(t.get("model.layers.0.mlp.gate_proj.weight").shapeString()).isEqualTo("[120, 64]");
        assertThat(t.get("model.layers.0.mlp.down_proj.weight").shapeString()).isEqualTo("[64, 120]");
        assertThat(t.get("model.layers.2.post_attention_layernorm.weight").shapeString()).isEqualTo("[64]");
        assertThat(t.get("model.norm.weight").shapeString()).isEqualTo("[64]");
        assertThat(t.values()).allSatisfy(i -> assertThat(i.dtype()).isEqualTo(DType.F16));
        // same tensors and shapes as the golden Mistral model made by the Python generator
        Map<String, TensorInfo> golden = tensors(golden("base"));
        assertThat(t.keySet()).isEqualTo(golden.keySet());
        t.forEach((name, info) -> assertThat(info.shapeString()).as(name).isEqualTo(golden.get(name).shapeString()));

        // shards roughly equal by bytes
        long[] sizes = new long[3];
        for (int k = 0; k < 3; k++) {
            sizes[k] = Files.size(out.resolve(String.format(java.util.Locale.ROOT, "model-%05d-of-00003.safetensors", k + 1)));
        }
        long total = sizes[0] + sizes[1] + sizes[2];
        for (long s : sizes) {
            assertThat((double) s / total).isBetween(0.2, 0.45);
        }
        JsonNode index = json(out.resolve(SafetensorsIndex.FILE_NAME));
        assertThat(index.path("metadata").path("total_size").longValue()).isEqualTo(r.tensorBytes()).isEqualTo(414848);
        assertThat(r.parameters()).isEqualTo(414848 / 2);

        JsonNode config = json(out.resolve("config.json"));
        JsonNode goldenConfig = json(golden("base").resolve("config.json"));
        assertThat(config).isEqualTo(goldenConfig);
        assertThat(Files.readString(out.resolve("config.json")))
                .isEqualTo(Files.readString(golden("base").resolve("config.json")));

        JsonNode tok = json(out.resolve("tokenizer.json"));
        assertThat(tok.path("model").path("type").asText()).isEqualTo("WordLevel");
        assertThat(tok.path("model").path("vocab").size()).isEqualTo(512);
        assertThat(tok.path("model").path("vocab").path("<unk>").intValue()).isZero();
        assertThat(tok.path("model").path("vocab").path("<s>").intValue()).isEqualTo(1);
        assertThat(tok.path("model").path("vocab").path("</s>").intValue()).isEqualTo(2);
        assertThat(tok.path("added_tokens")).hasSize(3);
        assertThat(json(out.resolve("tokenizer_config.json")).path("eos_token").asText()).isEqualTo("</s>");
        assertThat(json(out.resolve("special_tokens_map.json")).path("bos_token").path("content").asText()).isEqualTo("<s>");
        assertThat(json(out.resolve("generation_config.json")).path("eos_token_id").intValue()).isEqualTo(2);
    }

    @Test
    void valuesHaveTheRequestedDistributions() {
        Path out = tmp.resolve("dist");
        Synth.write(new SynthSpec("LlamaForCausalLM", 256, 512, 1, 8, 8, 1024, DType.F32, 1, false, 5, null, 0), out);
        Map<String, float[]> v = values(out);
        double[] lin = stats(v.get("model.layers.0.mlp.up_proj.weight"));
        assertThat(lin[0]).isCloseTo(0.0, within(0.001));
        assertThat(lin[1]).isCloseTo(0.02, within(0.0005));
        double[] norm = stats(v.get("model.layers.0.input_layernorm.weight"));
        assertThat(norm[0]).isCloseTo(1.0, within(0.01));
        assertThat(norm[1]).isCloseTo(0.02, within(0.005));
    }

    /** {mean, standard deviation}. */
    static double[] stats(float[] a) {
        double s = 0;
        double s2 = 0;
        for (float x : a) {
            s += x;
            s2 += (double) x * x;
        }
        double mean = s / a.length;
        return new double[] {mean, Math.sqrt(s2 / a.length - mean * mean)};
    }

    @Test
    void qwen2TiedHasBiasesAndNoLmHead() throws IOException {
        Path out = tmp.resolve("qwen2");
        Synth.write(SynthSpec.tiny("Qwen2ForCausalLM").withTied(true).withDtype(DType.BF16), out);
        Map<String, TensorInfo> t = tensors(out);
        assertThat(t).doesNotContainKey("lm_head.weight");
        assertThat(t.get("model.layers.1.self_attn.q_proj.bias").shapeString()).isEqualTo("[64]");
        assertThat(t.get("model.layers.1.self_attn.k_proj.bias").shapeString()).isEqualTo("[32]");
        assertThat(t.get("model.layers.1.self_attn.v_proj.bias").shapeString()).isEqualTo("[32]");
        assertThat(t).doesNotContainKey("model.layers.1.self_attn.o_proj.bias");
        assertThat(t.values()).allSatisfy(i -> assertThat(i.dtype()).isEqualTo(DType.BF16));
        assertThat(out.resolve("model.safetensors")).exists();
        assertThat(out.resolve(SafetensorsIndex.FILE_NAME)).doesNotExist();
        JsonNode c = json(out.resolve("config.json"));
        assertThat(c.path("model_type").asText()).isEqualTo("qwen2");
        assertThat(c.path("tie_word_embeddings").booleanValue()).isTrue();
        assertThat(c.path("torch_dtype").asText()).isEqualTo("bfloat16");
        assertThat(c.path("architectures").get(0).asText()).isEqualTo("Qwen2ForCausalLM");
    }

    @Test
    void phi3HasFusedProjections() throws IOException {
        Path out = tmp.resolve("phi3");
        Synth.write(SynthSpec.tiny("Phi3ForCausalLM").withDtype(DType.F32).withShards(2), out);
        Map<String, TensorInfo> t = tensors(out);
        assertThat(t.get("model.layers.0.self_attn.qkv_proj.weight").shapeString()).isEqualTo("[128, 64]");
        assertThat(t.get("model.layers.0.mlp.gate_up_proj.weight").shapeString()).isEqualTo("[256, 64]");
        assertThat(t.get("model.layers.0.mlp.down_proj.weight").shapeString()).isEqualTo("[64, 128]");
        assertThat(t).doesNotContainKeys("model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.gate_proj.weight");
        assertThat(t).containsKey("lm_head.weight");
        assertThat(json(out.resolve("config.json")).path("model_type").asText()).isEqualTo("phi3");
    }

    @Test
    void qwen3GemmaAndLlama() throws IOException {
        Synth.write(SynthSpec.tiny("Qwen3ForCausalLM"), tmp.resolve("q3"));
        Map<String, TensorInfo> q3 = tensors(tmp.resolve("q3"));
        assertThat(q3.get("model.layers.0.self_attn.q_norm.weight").shapeString()).isEqualTo("[16]");
        assertThat(q3.get("model.layers.0.self_attn.k_norm.weight").shapeString()).isEqualTo("[16]");
        assertThat(json(tmp.resolve("q3/config.json")).path("head_dim").intValue()).isEqualTo(16);

        Synth.write(SynthSpec.tiny("GemmaForCausalLM").withTied(false), tmp.resolve("gemma"));
        assertThat(tensors(tmp.resolve("gemma"))).doesNotContainKey("lm_head.weight");
        assertThat(json(tmp.resolve("gemma/config.json")).path("tie_word_embeddings").booleanValue()).isTrue();
        // Gemma scales by (1 + weight): its norm weights are centred on 0
        assertThat(stats(values(tmp.resolve("gemma")).get("model.norm.weight"))[0]).isCloseTo(0, within(0.02));

        Synth.write(SynthSpec.tiny("LlamaForCausalLM").withLayers(3), tmp.resolve("llama"));
        assertThat(tensors(tmp.resolve("llama"))).hasSize(2 + 9 * 3 + 1);
    }

    @Test
    void derivedModelDiffersFromItsBaseByTheNoise() throws IOException {
        Path base = tmp.resolve("base");
        Synth.write(new SynthSpec("MistralForCausalLM", 64, 128, 2, 4, 2, 512, DType.F32, 1, false, 1, null, 0), base);
        Path ft = tmp.resolve("ft");
        Synth.Result r = Synth.write(SynthSpec.derived(base, 0.01, 2).withShards(2), ft);
        assertThat(r.architecture()).isEqualTo("MistralForCausalLM");
        Map<String, float[]> a = values(base);
        Map<String, float[]> b = values(ft);
        assertThat(b.keySet()).isEqualTo(a.keySet());
        double s2 = 0;
        long n = 0;
        for (String name : a.keySet()) {
            float[] x = a.get(name);
            float[] y = b.get(name);
            assertThat(y).hasSameSizeAs(x);
            for (int i = 0; i < x.length; i++) {
                double d = y[i] - x[i];
                s2 += d * d;
                n++;
            }
        }
        assertThat(Math.sqrt(s2 / n)).isCloseTo(0.01, within(0.0002));
        assertThat(Files.readString(ft.resolve("config.json"))).isEqualTo(Files.readString(base.resolve("config.json")));
        assertThat(Files.mismatch(ft.resolve("tokenizer.json"), base.resolve("tokenizer.json"))).isEqualTo(-1);
        assertThat(ft.resolve("generation_config.json")).exists();
    }

    @Test
    void derivedFromTheShardedGoldenModelChangingDtype() throws IOException {
        Path ft = tmp.resolve("ft-bf16");
        Synth.write(SynthSpec.derived(golden("ft-b"), 0.002, 9).withDtype(DType.BF16), ft);
        Map<String, TensorInfo> t = tensors(ft);
        Map<String, TensorInfo> g = tensors(golden("ft-b"));
        assertThat(t.keySet()).isEqualTo(g.keySet());
        t.forEach((name, info) -> {
            assertThat(info.dtype()).isEqualTo(DType.BF16);
            assertThat(info.shapeString()).isEqualTo(g.get(name).shapeString());
        });
        JsonNode c = json(ft.resolve("config.json"));
        assertThat(c.path("torch_dtype").asText()).isEqualTo("bfloat16");
        assertThat(c.path("hidden_size").intValue()).isEqualTo(64);
        assertThat(Files.readString(ft.resolve("config.json")))
                .isEqualTo(Files.readString(golden("ft-b").resolve("config.json")).replace("\"float16\"", "\"bfloat16\""));
    }

    @Test
    void sameSeedGivesByteIdenticalFiles() throws IOException {
        SynthSpec spec = SynthSpec.tiny("MistralForCausalLM").withShards(3).withSeed(42).withDtype(DType.BF16);
        Synth.write(spec, tmp.resolve("a"));
        Synth.write(spec, tmp.resolve("b"));
        Synth.write(spec.withSeed(43), tmp.resolve("c"));
        List<Path> files;
        try (Stream<Path> s = Files.list(tmp.resolve("a"))) {
            files = s.map(p -> p.getFileName()).sorted().toList();
        }
        assertThat(files).hasSize(3 + 1 + 5);
        for (Path f : files) {
            assertThat(Files.mismatch(tmp.resolve("a").resolve(f), tmp.resolve("b").resolve(f))).as(f.toString())
                    .isEqualTo(-1);
        }
        assertThat(Files.mismatch(tmp.resolve("a/model-00001-of-00003.safetensors"),
                tmp.resolve("c/model-00001-of-00003.safetensors"))).isNotEqualTo(-1);
    }

    @Test
    void valuesDoNotDependOnSharding() {
        SynthSpec spec = SynthSpec.tiny("LlamaForCausalLM").withSeed(3);
        Synth.write(spec, tmp.resolve("one"));
        Synth.write(spec.withShards(4), tmp.resolve("four"));
        Map<String, float[]> a = values(tmp.resolve("one"));
        Map<String, float[]> b = values(tmp.resolve("four"));
        a.forEach((name, v) -> assertThat(b.get(name)).as(name).containsExactly(v));
    }

    @Test
    void refusesANonEmptyOutputDirectory() throws IOException {
        Path out = tmp.resolve("busy");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "x");
        assertThatThrownBy(() -> Synth.write(SynthSpec.tiny("MistralForCausalLM"), out))
                .isInstanceOfSatisfying(AmalgamException.class, e -> {
                    assertThat(e.getMessage()).contains("not empty");
                    assertThat(e.hint()).isNotBlank();
                });
        try (Stream<Path> s = Files.list(out)) {
            assertThat(s.count()).isEqualTo(1);
        }
        Path empty = tmp.resolve("empty");
        Files.createDirectories(empty);
        Synth.write(SynthSpec.tiny("MistralForCausalLM"), empty);
        assertThat(empty.resolve("model.safetensors")).exists();
    }

    @Test
    void unknownArchitectureListsTheSupportedOnes() {
        assertThatThrownBy(() -> Synth.write(SynthSpec.tiny("FalconForCausalLM"), tmp.resolve("x")))
                .isInstanceOfSatisfying(AmalgamException.class, e -> {
                    assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
                    assertThat(e.getMessage()).contains("FalconForCausalLM");
                    assertThat(e.hint()).contains("MistralForCausalLM").contains("Phi3ForCausalLM").contains("Qwen2ForCausalLM");
                });
    }

    @Test
    void invalidShapesAreRefused() {
        SynthSpec s = SynthSpec.tiny("MistralForCausalLM");
        assertThatThrownBy(() -> Synth.write(new SynthSpec(s.architecture(), 65, 128, 2, 4, 2, 256, DType.F16, 1, false, 0, null, 0),
                tmp.resolve("a"))).isInstanceOf(AmalgamException.class).hasMessageContaining("multiple of heads");
        assertThatThrownBy(() -> Synth.write(new SynthSpec(s.architecture(), 64, 128, 2, 4, 3, 256, DType.F16, 1, false, 0, null, 0),
                tmp.resolve("b"))).isInstanceOf(AmalgamException.class).hasMessageContaining("kv-heads");
        assertThatThrownBy(() -> Synth.write(s.withDtype(DType.I8), tmp.resolve("c")))
                .isInstanceOf(AmalgamException.class).hasMessageContaining("dtype");
        assertThatThrownBy(() -> Synth.write(s.withShards(1000), tmp.resolve("d")))
                .isInstanceOf(AmalgamException.class).hasMessageContaining("1000 shards");
    }

    @Test
    void tokenizerWords() {
        assertThat(Tokenizer.word(0)).isEqualTo("a");
        assertThat(Tokenizer.word(25)).isEqualTo("z");
        assertThat(Tokenizer.word(26)).isEqualTo("aa");
        assertThat(Tokenizer.word(27)).isEqualTo("ab");
        assertThat(Tokenizer.word(26 + 676)).isEqualTo("aaa");
    }
}
