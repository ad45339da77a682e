package dev.amalgam.golden;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.amalgam.io.SafetensorsIndex;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The foundation's golden cases: our output against the reference tool's, tensor by tensor,
 * plus config.json, shard layout and model card structure.
 */
class GoldenFoundationTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** Cases whose every element must be bit-identical to the reference. */
    @ParameterizedTest
    @ValueSource(strings = {"linear", "passthrough-frankenmerge", "passthrough-scale", "sharded-in-out",
            "slices-source-params", "dtype-mixed-f32-out-bf16"})
    void bitIdentical(String name) throws IOException {
        Path out = tmp.resolve("out");
        Golden.Run run = Golden.merge(name, out);
        assertThat(run.exitCode()).as(run.err()).isZero();
        Golden.Comparison c = Golden.compare(out, Golden.caseDir(name).resolve("out"));
        assertThat(c.problems()).as(c.toString()).isEmpty();
        assertThat(c.bitEqual()).as(name + ": " + c + " " + c.differingByTensor()).isEqualTo(c.elements());
        assertConfigMatches(out, Golden.caseDir(name).resolve("out"));
    }

    /** SLERP cases: the dot product and trigonometry may differ in the last float32 bit. */
    @ParameterizedTest
    @ValueSource(strings = {"slerp", "dtype-bf16-inputs"})
    void slerpWithinRounding(String name) throws IOException {
        Path out = tmp.resolve("out");
        Golden.Run run = Golden.merge(name, out);
        assertThat(run.exitCode()).as(run.err()).isZero();
        Golden.Comparison c = Golden.compare(out, Golden.caseDir(name).resolve("out"));
        assertThat(c.problems()).as(c.toString()).isEmpty();
        assertThat(c.bitEqualFraction()).as(c.toString()).isGreaterThanOrEqualTo(0.999);
        assertThat(c.bitEqual() + c.withinOneUlp()).as(c.toString()).isEqualTo(c.elements());
        assertConfigMatches(out, Golden.caseDir(name).resolve("out"));
    }

    @Test
    void shardedOutputHasTheReferenceLayout() throws IOException {
        Path out = tmp.resolve("out");
        assertThat(Golden.merge("sharded-in-out", out).exitCode()).isZero();
        Path ref = Golden.caseDir("sharded-in-out").resolve("out");
        assertThat(SafetensorsIndex.readWeightMap(out.resolve("model.safetensors.index.json")))
                .containsExactlyEntriesOf(SafetensorsIndex.readWeightMap(ref.resolve("model.safetensors.index.json")));
        List<String> ours = new ArrayList<>();
        try (var s = Files.list(out)) {
            s.map(p -> p.getFileName().toString()).filter(f -> f.endsWith(".safetensors")).sorted().forEach(ours::add);
        }
        assertThat(ours).containsExactly("model-00001-of-00005.safetensors", "model-00002-of-00005.safetensors",
                "model-00003-of-00005.safetensors", "model-00004-of-00005.safetensors",
                "model-00005-of-00005.safetensors");
        JsonNode index = JSON.readTree(out.resolve("model.safetensors.index.json").toFile());
        JsonNode refIndex = JSON.readTree(ref.resolve("model.safetensors.index.json").toFile());
        assertThat(index.at("/metadata/total_size").asLong()).isEqualTo(refIndex.at("/metadata/total_size").asLong());
    }

    @Test
    void frankenmergeConfigCountsStackedLayers() throws IOException {
        Path out = tmp.resolve("out");
        assertThat(Golden.merge("passthrough-frankenmerge", out).exitCode()).isZero();
        JsonNode cfg = JSON.readTree(out.resolve("config.json").toFile());
        assertThat(cfg.get("num_hidden_layers").asInt()).isEqualTo(8);
    }

    @Test
    void directoryHasTheReferenceFiles() throws IOException {
        Path out = tmp.resolve("out");
        assertThat(Golden.merge("slerp", out).exitCode()).isZero();
        List<String> files = new ArrayList<>();
        try (var s = Files.list(out)) {
            s.map(p -> p.getFileName().toString()).sorted().forEach(files::add);
        }
        assertThat(files).containsExactly(".amalgam-journal", "README.md", "config.json", "generation_config.json",
                "mergekit_config.yml", "model.safetensors", "special_tokens_map.json", "tokenizer.json",
                "tokenizer_config.json");
        Path models = Golden.root().resolve("models/ft-a");
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                "generation_config.json")) {
            assertThat(Files.readAllBytes(out.resolve(f))).as(f).isEqualTo(Files.readAllBytes(models.resolve(f)));
        }
        assertThat(Files.readString(out.resolve("mergekit_config.yml")))
                .isEqualTo(Files.readString(Golden.caseDir("slerp").resolve("config.yml")));
        String card = Files.readString(out.resolve("README.md"));
        String ref = Files.readString(Golden.caseDir("slerp").resolve("out/README.md"));
        for (String line : List.of("---", "base_model: []", "library_name: transformers", "- mergekit", "- merge",
                "## Merge Details", "### Merge Method",
                "This model was merged using the [SLERP](https://en.wikipedia.org/wiki/Slerp) merge method.",
                "### Models Merged", "* models/ft-a", "* models/ft-b", "### Configuration", "```yaml")) {
            assertThat(ref).as("reference card").contains(line);
            assertThat(card).contains(line);
        }
        assertThat(card).startsWith("---\nbase_model: []\nlibrary_name: transformers\ntags:\n- mergekit\n- merge\n"
                + "- amalgam\n\n---\n# out\n");
        assertThat(card).contains("Amalgam");
        assertThat(card).endsWith("```yaml\n" + Files.readString(Golden.caseDir("slerp").resolve("config.yml"))
                + "\n```\n");
    }

    private static void assertConfigMatches(Path out, Path ref) throws IOException {
        JsonNode a = JSON.readTree(out.resolve("config.json").toFile());
        JsonNode b = JSON.readTree(ref.resolve("config.json").toFile());
        for (String key : List.of("architectures", "num_hidden_layers", "hidden_size", "vocab_size", "dtype",
                "tie_word_embeddings", "num_key_value_heads")) {
            assertThat(a.get(key)).as(key).isEqualTo(b.get(key));
        }
    }
}
