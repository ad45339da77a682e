package dev.amalgam.cli;

import dev.amalgam.golden.Golden;
import dev.amalgam.io.DType;
import dev.amalgam.synth.Synth;
import dev.amalgam.synth.SynthSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bad input through the real CLI: one clear error with location and hint, exit code 2 (3 for
 * I/O), and nothing written to the output path.
 */
class MergeErrorsTest {

    @TempDir
    Path tmp;

    private String model(String name) {
        return Golden.root().resolve("models").resolve(name).toString();
    }

    private Golden.Run merge(String recipe, String... extra) throws IOException {
        Path file = tmp.resolve("recipe.yml");
        Files.writeString(file, recipe);
        String[] args = Stream.concat(Stream.of("merge", file.toString(), tmp.resolve("out").toString(), "--quiet"),
                Stream.of(extra)).toArray(String[]::new);
        return Golden.cli(args);
    }

    private void assertNothingWritten() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactly("recipe.yml");
        }
    }

    @Test
    void unknownMethodSuggestsTheClosest() throws IOException {
        Golden.Run r = merge("merge_method: slerpp\nbase_model: " + model("ft-a") + "\nmodels:\n  - model: "
                + model("ft-a") + "\n  - model: " + model("ft-b") + "\nparameters:\n  t: 0.5\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("error: unknown merge method 'slerpp'", "recipe.yml:1:15",
                "(merge_method)", "hint: did you mean 'slerp'?");
        assertNothingWritten();
    }

    @Test
    void missingModelNamesWhereItLooked() throws IOException {
        Golden.Run r = merge("merge_method: linear\nmodels:\n  - model: no/such-model\n    parameters:\n"
                + "      weight: 1.0\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("model 'no/such-model' is neither a local directory", "nor in the Hugging Face cache", "recipe.yml:3:", "hint: download it first: hf download no/such-model");
        assertNothingWritten();
    }

    @Test
    void slerpWithThreeModels() throws IOException {
        Golden.Run r = merge("merge_method: slerp\nbase_model: " + model("ft-a") + "\nmodels:\n  - model: "
                + model("ft-a") + "\n  - model: " + model("ft-b") + "\n  - model: " + model("ft-c")
                + "\nparameters:\n  t: 0.5\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("slerp merges exactly two models, got 3", "hint: list exactly two models");
        assertNothingWritten();
    }

    @Test
    void slerpWithoutBaseModel() throws IOException {
        Golden.Run r = merge("merge_method: slerp\nmodels:\n  - model: " + model("ft-a") + "\n  - model: "
                + model("ft-b") + "\nparameters:\n  t: 0.5\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("slerp needs a base_model", "recipe.yml:1:15");
    }

    @Test
    void missingRequiredParameter() throws IOException {
        Golden.Run r = merge("merge_method: slerp\nbase_model: " + model("ft-a") + "\nmodels:\n  - model: "
                + model("ft-a") + "\n  - model: " + model("ft-b") + "\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("missing required parameter 't'", "hint: add 't:' under parameters");
        assertNothingWritten();
    }

    @Test
    void everyProblemOfAPlanIsListedAtOnce() throws IOException {
        Golden.Run r = merge("slices:\n  - sources:\n      - model: " + model("ft-a") + "\n        layer_range: [0, 2]\n"
                + "      - model: " + model("ft-b") + "\n        layer_range: [0, 2]\n        parameters: {weight: 1}\n"
                + "  - sources:\n      - model: " + model("ft-c") + "\n        layer_range: [2, 4]\n"
                + "      - model: " + model("ft-b") + "\n        layer_range: [2, 4]\n        parameters: {weight: 1}\n"
                + "merge_method: linear\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("missing required parameter 'weight' for model " + model("ft-a"),
                "recipe.yml:3:9", "missing required parameter 'weight' for model " + model("ft-c"), "recipe.yml:9:9");
        assertThat(r.err().split("error: ", -1)).hasSize(3);
        assertNothingWritten();
    }

    @Test
    void layerRangeOutsideTheModel() throws IOException {
        Golden.Run r = merge("slices:\n  - sources:\n      - model: " + model("ft-a")
                + "\n        layer_range: [0, 5]\nmerge_method: passthrough\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("layer_range [0, 5] is outside", "which has 4 layers", "recipe.yml:4:22",
                "hint: use a range within [0, 4]");
        assertNothingWritten();
    }

    @Test
    void differingShapes() throws IOException {
        Path small = tmp.resolve("small");
        Synth.write(new SynthSpec("MistralForCausalLM", 32, 120, 4, 4, 2, 512, DType.F16, 1, false, 1L, null, 0),
                small);
        Golden.Run r = merge("merge_method: linear\nmodels:\n  - model: " + model("ft-a")
                + "\n    parameters: {weight: 1}\n  - model: " + small + "\n    parameters: {weight: 1}\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("has shape [", "tensor ", "hint: the models must have the same architecture");
        assertThat(tmp.resolve("out")).doesNotExist();
    }

    @Test
    void missingTensorAcrossArchitectures() throws IOException {
        Path qwen = tmp.resolve("qwen");
        Synth.write(new SynthSpec("Qwen2ForCausalLM", 64, 120, 4, 4, 2, 512, DType.F16, 1, false, 1L, null, 0),
                qwen);
        String recipe = "merge_method: linear\nmodels:\n  - model: " + model("ft-a")
                + "\n    parameters: {weight: 1}\n  - model: " + qwen + "\n    parameters: {weight: 1}\n";
        Golden.Run crimes = merge(recipe);
        assertThat(crimes.exitCode()).isEqualTo(2);
        assertThat(crimes.err()).contains("different architectures", "hint: pass --allow-crimes");
        Golden.Run r = merge(recipe, "--allow-crimes");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("is missing from model " + model("ft-a"), "self_attn.k_proj.bias");
        assertThat(tmp.resolve("out")).doesNotExist();
    }

    @Test
    void corruptShardIsNamed() throws IOException {
        Path broken = tmp.resolve("broken");
        Files.createDirectories(broken);
        for (String f : new String[]{"config.json", "model.safetensors"}) {
            Files.copy(Golden.root().resolve("models/ft-a").resolve(f), broken.resolve(f));
        }
        try (FileChannel ch = FileChannel.open(broken.resolve("model.safetensors"), StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 100);
        }
        Golden.Run r = merge("merge_method: linear\nmodels:\n  - model: " + broken + "\n    parameters: "
                + "{weight: 1}\n  - model: " + model("ft-b") + "\n    parameters: {weight: 1}\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("model.safetensors").contains("hint:");
        assertThat(tmp.resolve("out")).doesNotExist();
    }

    @Test
    void weightsSummingToZeroUnderNormalize() throws IOException {
        Golden.Run r = merge("merge_method: linear\nmodels:\n  - model: " + model("ft-a")
                + "\n    parameters:\n      weight: 0.5\n  - model: " + model("ft-b")
                + "\n    parameters:\n      weight: -0.5\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("the weights sum to zero", "recipe.yml:");
    }

    @Test
    void existingOutputIsNeverClobbered() throws IOException {
        Path out = tmp.resolve("out");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "precious");
        String recipe = "merge_method: linear\nmodels:\n  - model: " + model("ft-a")
                + "\n    parameters: {weight: 1}\n  - model: " + model("ft-b") + "\n    parameters: {weight: 1}\n";
        Golden.Run r = merge(recipe);
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("exists and is not empty", "hint: choose another output path, or pass --overwrite");
        assertThat(Files.readString(out.resolve("keep.txt"))).isEqualTo("precious");
        Golden.Run again = merge(recipe, "--overwrite");
        assertThat(again.exitCode()).as(again.err()).isZero();
        assertThat(out.resolve("keep.txt")).doesNotExist();
        assertThat(out.resolve("model.safetensors")).exists();
        try (Stream<Path> s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("recipe.yml", "out");
        }
    }

    @Test
    void badShardSizeAndUnknownOption() throws IOException {
        String recipe = "merge_method: linear\nmodels:\n  - model: " + model("ft-a") + "\n    parameters: {weight: 1}\n";
        Golden.Run r = merge(recipe, "--out-shard-size", "1.5B");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("invalid --out-shard-size '1.5B'");
        Golden.Run u = merge(recipe, "--no-such-option");
        assertThat(u.exitCode()).isEqualTo(2);
        assertThat(u.err()).contains("Unknown option");
    }

    @Test
    void compatibilityOptionsAreAcceptedWithANote() throws IOException {
        String recipe = "merge_method: linear\nmodels:\n  - model: " + model("ft-a") + "\n    parameters: {weight: 1}\n";
        Golden.Run r = merge(recipe, "--cuda", "--lazy-unpickle", "--low-cpu-memory", "--no-copy-tokenizer",
                "--no-write-model-card", "-j", "1", "--random-seed", "3");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).contains("note: --cuda", "note: --lazy-unpickle", "note: --low-cpu-memory");
        assertThat(tmp.resolve("out/tokenizer.json")).doesNotExist();
        assertThat(tmp.resolve("out/README.md")).doesNotExist();
        assertThat(tmp.resolve("out/config.json")).exists();
    }
}
