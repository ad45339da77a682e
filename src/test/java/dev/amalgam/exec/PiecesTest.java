package dev.amalgam.exec;

import dev.amalgam.io.DType;
import dev.amalgam.output.Verifier;
import dev.amalgam.plan.OutputTensor;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.PlanOptions;
import dev.amalgam.plan.Planner;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.synth.Synth;
import dev.amalgam.synth.SynthSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Large tensors merged in pieces on several workers give byte-identical files to whole tensors
 * on one worker, and the journal's checksums (joined from the pieces') verify; merges that need
 * the whole tensor (measuring passes) are not split and agree too.
 */
class PiecesTest {

    @TempDir
    Path tmp;

    @BeforeEach
    void models() {
        // vocab 3000 x hidden 64: 192 000-element embeddings and head, layers of 4096-24 576
        Synth.write(new SynthSpec("LlamaForCausalLM", 64, 96, 2, 4, 2, 3000, DType.BF16, 1, false, 1L, null, 0),
                tmp.resolve("base"));
        Synth.write(SynthSpec.derived(tmp.resolve("base"), 0.02, 2), tmp.resolve("a"));
        Synth.write(SynthSpec.derived(tmp.resolve("base"), 0.02, 3), tmp.resolve("b"));
    }

    private String recipe(String method) {
        String models = "models:\n  - model: " + tmp.resolve("a") + "\n    parameters: {weight: 0.6, density: 0.5}\n"
                + "  - model: " + tmp.resolve("b") + "\n    parameters: {weight: 0.4, density: 0.7}\n";
        return switch (method) {
            case "linear" -> "merge_method: linear\n" + models + "dtype: bfloat16\n";
            case "passthrough" -> "merge_method: passthrough\nmodels:\n  - model: " + tmp.resolve("a")
                    + "\ndtype: float16\n";
            default -> "merge_method: " + method + "\nbase_model: " + tmp.resolve("base") + "\n" + models
                    + "parameters: {rescale: false}\ndtype: bfloat16\n";
        };
    }

    private Path merge(String method, RunOptions options, String name) {
        Path out = tmp.resolve(name);
        try (Plan plan = Planner.plan(Recipe.parse(recipe(method), method + ".yml"),
                PlanOptions.defaults().withSeed(5))) {
            Executor.run(plan, out, options);
        }
        return out;
    }

    @ParameterizedTest
    @CsvSource({"linear, 20", "task_arithmetic, 20", "dare_linear, 20", "della_linear, 20", "passthrough, 20",
            "ties, 1"})
    void largeTensorsOfMergesWithoutMeasuringPassesAreSplit(String method, int embeddingPieces) {
        try (Plan plan = Planner.plan(Recipe.parse(recipe(method), method + ".yml"),
                PlanOptions.defaults().withSeed(5))) {
            for (OutputTensor t : plan.tensors()) {
                int pieces = Executor.pieces(plan, t, 3, 10_000, null).size();
                // only the 192 000-element embedding and head exceed 10 000 elements: 20 pieces of about 10 000
                boolean large = t.name().contains("embed") || t.name().startsWith("lm_head");
                int expected = large ? embeddingPieces : 1;
                assertThat(pieces).as(t.name()).isEqualTo(expected);
            }
            OutputTensor embed = plan.tensors().stream().filter(t -> t.name().contains("embed")).findFirst()
                    .orElseThrow();
            assertThat(Executor.pieces(plan, embed, 1, 10_000, null)).as("one worker").hasSize(1);
            assertThat(Executor.pieces(plan, embed, 3, 1 << 24, null)).as("small tensor").hasSize(1);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"linear", "task_arithmetic", "dare_linear", "della_linear", "ties", "passthrough"})
    void piecesOnSeveralWorkersWriteTheSameBytes(String method) throws IOException {
        Path whole = merge(method, RunOptions.defaults().withThreads(1), "whole");
        Path pieces = merge(method, RunOptions.defaults().withThreads(3).withChunk(1000).withPieceElements(10_000),
                "pieces");
        List<Path> files;
        try (Stream<Path> s = Files.list(whole)) {
            files = s.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
        }
        assertThat(files).isNotEmpty();
        for (Path f : files) {
            assertThat(Files.mismatch(f, pieces.resolve(f.getFileName()))).as(f.getFileName().toString())
                    .isEqualTo(-1L);
        }
        assertThat(Verifier.verify(pieces, true)).noneMatch(Verifier.Finding::error);
    }
}
