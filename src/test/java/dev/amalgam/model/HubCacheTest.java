package dev.amalgam.model;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.exec.Executor;
import dev.amalgam.exec.RunOptions;
import dev.amalgam.golden.Golden;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.PlanOptions;
import dev.amalgam.plan.Planner;
import dev.amalgam.recipe.Recipe;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code org/name[@revision]} resolved offline in a Hugging Face cache laid out as the hub
 * client lays it out: blobs, snapshots of links into them, refs naming commits.
 */
class HubCacheTest {

    private static final String MAIN = "a".repeat(40);
    private static final String V1 = "b".repeat(40);

    @TempDir
    Path tmp;
    Path cache;

    @BeforeEach
    void cache() throws IOException {
        cache = tmp.resolve("hub");
        Path repo = cache.resolve("models--org--tiny");
        snapshot(repo, MAIN, Golden.root().resolve("models/ft-a"));
        snapshot(repo, V1, Golden.root().resolve("models/ft-b"));
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), MAIN);
        Files.writeString(repo.resolve("refs/v1"), V1 + "\n");
    }

    private static void snapshot(Path repo, String commit, Path model) throws IOException {
        Path snap = repo.resolve("snapshots").resolve(commit);
        Files.createDirectories(snap);
        Files.createDirectories(repo.resolve("blobs"));
        try (Stream<Path> files = Files.list(model)) {
            for (Path f : files.toList()) {
                String blob = commit.substring(0, 8) + "-" + f.getFileName();
                Files.copy(f, repo.resolve("blobs").resolve(blob));
                Files.createSymbolicLink(snap.resolve(f.getFileName()), Path.of("../../blobs").resolve(blob));
            }
        }
    }

    @Test
    void resolvesBranchesTagsAndCommits() {
        ModelLocator l = new ModelLocator(tmp, null, cache);
        Path repo = cache.resolve("models--org--tiny/snapshots");
        assertThat(l.locate("org/tiny", null, Where.NONE)).isEqualTo(repo.resolve(MAIN));
        assertThat(l.locate("org/tiny", "v1", Where.NONE)).isEqualTo(repo.resolve(V1));
        assertThat(l.locate("org/tiny", V1, Where.NONE)).isEqualTo(repo.resolve(V1));
        assertThat(ModelLocator.hubCache(Map.of("HF_HOME", "/x"))).isEqualTo(Path.of("/x/hub"));
        assertThat(ModelLocator.hubCache(Map.of("HF_HOME", "/x", "HF_HUB_CACHE", "/y"))).isEqualTo(Path.of("/y"));
    }

    @Test
    void missingModelOrRevisionSaysHowToGetIt() {
        ModelLocator l = new ModelLocator(tmp, null, cache);
        assertThatThrownBy(() -> l.locate("org/other", null, Where.NONE)).isInstanceOf(AmalgamException.class)
                .hasMessageContaining("nor in the Hugging Face cache")
                .satisfies(e -> assertThat(((AmalgamException) e).hint()).contains("hf download org/other"));
        assertThatThrownBy(() -> l.locate("org/tiny", "v2", Where.NONE))
                .hasMessageContaining("revision 'v2' of 'org/tiny' is not in the Hugging Face cache")
                .satisfies(e -> assertThat(((AmalgamException) e).hint())
                        .contains("hf download org/tiny --revision v2"));
    }

    @Test
    void mergesTwoRevisionsOfACachedModel() throws IOException {
        Recipe r = Recipe.parse("merge_method: linear\nmodels:\n  - model: org/tiny\n    parameters: {weight: 1}\n"
                + "  - model: org/tiny@v1\n    parameters: {weight: 1}\ndtype: float16\n", "r.yml");
        Path out = tmp.resolve("out");
        try (Plan plan = Planner.plan(r, PlanOptions.defaults().withWorkDir(tmp).withHubCache(cache))) {
            Executor.run(plan, out, RunOptions.defaults());
        }
        Path ref = tmp.resolve("ref");
        Recipe local = Recipe.parse("merge_method: linear\nmodels:\n  - model: " + Golden.root().resolve("models/ft-a")
                + "\n    parameters: {weight: 1}\n  - model: " + Golden.root().resolve("models/ft-b")
                + "\n    parameters: {weight: 1}\ndtype: float16\n", "l.yml");
        try (Plan plan = Planner.plan(local, PlanOptions.defaults())) {
            Executor.run(plan, ref, RunOptions.defaults());
        }
        assertThat(Files.readAllBytes(out.resolve("model.safetensors")))
                .isEqualTo(Files.readAllBytes(ref.resolve("model.safetensors")));
        String card = Files.readString(out.resolve("README.md"));
        assertThat(card).contains("base_model:\n- org/tiny\n", "* [org/tiny](https://huggingface.co/org/tiny)");
    }
}
