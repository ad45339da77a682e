package dev.amalgam.fuzz;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.io.SafetensorsIndex;
import dev.amalgam.recipe.Recipe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What the fuzzer found, reduced to the smallest inputs, so each stays fixed. */
class FuzzFindingsTest {

    @TempDir
    Path dir;

    /** index, seed 20260601 iteration 104: leading zero bytes made Jackson guess UTF-32 and throw an IOException, reported as IO. */
    @Test
    void indexThatLooksLikeUtf32IsBadInput() throws IOException {
        Path p = dir.resolve("model.safetensors.index.json");
        Files.write(p, new byte[] {0, 0, 0, '{', '"', 'a', '"', ':', '"', 'b', '"', '}'});
        assertThatThrownBy(() -> SafetensorsIndex.readWeightMap(p)).isInstanceOfSatisfying(AmalgamException.class,
                e -> assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT));
    }

    /**
     * recipe, seed 20260601 iteration 1103: an explicit YAML tag over a value of another type
     * reached SnakeYAML's constructor, which threw NumberFormatException (or returned null for
     * {@code !!bool}, then a NullPointerException).
     */
    @ParameterizedTest
    @ValueSource(strings = {"!!int 1.0", "!!int abc", "!!int 0x", "!!int 0b102", "!!int 0o9", "!!float abc", "!!float .",
            "!!bool maybe", "!<tag:yaml.org,2002:int> 0.5"})
    void explicitlyTaggedScalarsOfTheWrongType(String value) {
        for (String recipe : new String[] {
                "merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: " + value + "\n",
                "slices:\n  - sources:\n      - model: a\n        layer_range: [0, " + value + "]\nmerge_method: passthrough\n",
                "merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: 1\nparameters:\n  normalize: "
                        + value + "\n"}) {
            assertThatThrownBy(() -> Recipe.parse(recipe, "r.yml")).as(recipe)
                    .isInstanceOfSatisfying(AmalgamException.class, e -> {
                        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.RECIPE);
                        assertThat(e.where().line()).isPositive();
                    });
        }
    }

    @Test
    void theMessageNamesTheTagAndTheValue() {
        assertThatThrownBy(() -> Recipe.parse("merge_method: linear\nmodels:\n  - model: a\n    parameters:\n"
                + "      weight: !!int 0.5\n", "r.yml")).isInstanceOfSatisfying(AmalgamException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo("'0.5' is not a valid !!int value");
                    assertThat(e.where().line()).isEqualTo(5);
                    assertThat(e.where().column()).isEqualTo(15);
                });
    }
}
