package dev.amalgam.cli;

import dev.amalgam.golden.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code inspect}, {@code plan} and {@code merge --dry-run} through the real CLI. */
class InspectAndPlanTest {

    @TempDir
    Path tmp;

    @Test
    void inspectShowsTheStructureOfAShardedModel() {
        Golden.Run r = Golden.cli("inspect", Golden.root().resolve("models/ft-b").toString(), "--tensors");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("architecture: MistralForCausalLM (model_type mistral)",
                "layers:       4 under 'model.layers.N.' (config num_hidden_layers = 4), 9 tensors in layer 0",
                "pre-layer:    model.embed_tokens.weight [512, 64]",
                "post-layer:   lm_head.weight [512, 64], model.norm.weight [64]",
                "in 39 tensors", "dtypes:       F16 x39", "files:        3: model-00001-of-00003.safetensors",
                "embeddings:   untied (own output head); config tie_word_embeddings = false",
                "vocabulary:   512; tokenizer files: tokenizer.json, tokenizer_config.json",
                "model.layers.3.mlp.down_proj.weight");
    }

    @Test
    void inspectOfAMissingModelIsAnError() {
        Golden.Run r = Golden.cli("inspect", tmp.resolve("nope").toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("model directory not found");
    }

    @Test
    void dryRunShowsThePlanAndWritesNothing() throws IOException {
        Path recipe = Golden.root().resolve("recipe-dry-run.yml");
        Files.copy(Golden.caseDir("passthrough-frankenmerge").resolve("config.yml"), recipe,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path out = tmp.resolve("out");
        Golden.Run r = Golden.cli("merge", recipe.toString(), out.toString(), "--dry-run", "-v");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("plan: passthrough of 2 model(s) -> 75 tensors in 1 file(s), 8 layers",
                "model.layers.3.mlp.up_proj.weight [120, 64] F16 = copy(models/rand-y:model.layers.1.mlp.up_proj.weight)",
                "file model.safetensors: 75 tensors", "free disk needed:", "available");
        assertThat(out).doesNotExist();
        Golden.Run p = Golden.cli("plan", recipe.toString());
        assertThat(p.exitCode()).as(p.err()).isZero();
        assertThat(p.out()).contains("plan: passthrough of 2 model(s) -> 75 tensors", "memory: about");
    }

    @Test
    void planFindsErrorsBeforeAnythingIsWritten() throws IOException {
        Path recipe = tmp.resolve("bad.yml");
        Files.writeString(recipe, "merge_method: slerp\nbase_model: " + Golden.root().resolve("models/ft-a")
                + "\nmodels:\n  - model: " + Golden.root().resolve("models/ft-a") + "\n  - model: "
                + Golden.root().resolve("models/ft-b") + "\n");
        Golden.Run p = Golden.cli("plan", recipe.toString());
        assertThat(p.exitCode()).isEqualTo(2);
        assertThat(p.err()).contains("missing required parameter 't'");
    }
}
