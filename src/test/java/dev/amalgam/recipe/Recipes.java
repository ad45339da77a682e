package dev.amalgam.recipe;

import dev.amalgam.error.AmalgamException;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** Helpers shared by the recipe-stage tests: test resources and error capture. */
final class Recipes {

    private Recipes() {
    }

    /** The text of {@code src/test/resources/recipes/<name>}. */
    static String resource(String name) {
        try (InputStream in = Recipes.class.getResourceAsStream("/recipes/" + name)) {
            assertThat(in).as("test resource recipes/%s", name).isNotNull();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Recipe load(String name) {
        return Recipe.parse(resource(name), name);
    }

    /** The RECIPE error that parsing {@code yaml} must raise. */
    static AmalgamException parseError(String yaml) {
        AmalgamException e = catchThrowableOfType(AmalgamException.class, () -> Recipe.parse(yaml, "r.yml"));
        assertThat(e).as("parsing should fail:%n%s", yaml).isNotNull();
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.RECIPE);
        return e;
    }
}
