package dev.amalgam.recipe;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** Model reference syntax of spec §2.1 and the map form of §1.10. */
class ModelRefTest {

    @ParameterizedTest
    @ValueSource(strings = {"user/model", "user/model+user/lora", "user/model@v0.0.1",
            "user/model@v0.0.1+user/lora@main", "./local dir/m+l@x"})
    void roundTrips(String s) {
        ModelRef ref = ModelRef.parse(s);
        assertThat(ref.toString()).isEqualTo(s);
        assertThat(ModelRef.parse(ref.toString())).isEqualTo(ref);
    }

    @Test
    void fields() {
        ModelRef ref = ModelRef.parse("user/model@v0.0.1+user/lora@main");
        assertThat(ref).isEqualTo(new ModelRef("user/model", "v0.0.1", "user/lora", "main", null));
        assertThat(ref.hasLora()).isTrue();
        assertThat(ModelRef.parse("user/model").hasLora()).isFalse();
        assertThat(ModelRef.parse("user/model")).isEqualTo(ModelRef.of("user/model")).isNotEqualTo(ref);
    }

    @Test
    void morePlusesThanOne() {
        AmalgamException e = catchThrowableOfType(AmalgamException.class, () -> ModelRef.parse("a+b+c"));
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.RECIPE);
        assertThat(e.getMessage()).isEqualTo("can't parse model reference 'a+b+c': more than one '+'");
        assertThat(e.hint()).contains("path[@revision][+lora_path[@lora_revision]]");
    }

    @Test
    void moreAtsThanOne() {
        Where at = Where.at("r.yml", 3, 12, "models[0].model");
        AmalgamException e = catchThrowableOfType(AmalgamException.class, () -> ModelRef.parse("x@1@2", at));
        assertThat(e.getMessage()).isEqualTo("invalid model path - multiple '@': 'x@1@2'");
        assertThat(e.where()).isEqualTo(at);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "a+", "+b", "a@", "@r"})
    void emptyParts(String s) {
        assertThat(catchThrowableOfType(AmalgamException.class, () -> ModelRef.parse(s)).kind())
                .isEqualTo(AmalgamException.Kind.RECIPE);
    }

    @Test
    void errorsInARecipePointAtTheValue() {
        AmalgamException e = Recipes.parseError("merge_method: linear\nmodels:\n  - model: a+b+c\n");
        assertThat(e.where()).isEqualTo(Where.at("r.yml", 3, 12, "models[0].model"));
        e = Recipes.parseError("merge_method: linear\nbase_model: x@1@2\nmodels:\n  - model: a\n");
        assertThat(e.getMessage()).contains("multiple '@'");
        assertThat(e.where()).isEqualTo(Where.at("r.yml", 2, 13, "base_model"));
    }

    @Test
    void mapForm() {
        Recipe r = Recipe.parse("""
                merge_method: linear
                models:
                  - model:
                      model: {path: org/base, revision: main}
                      lora: org/adapter@v2
                      override_architecture: LlamaForCausalLM
                  - model: {model: org/other@abc}
                """, "r.yml");
        assertThat(r.models().get(0).model())
                .isEqualTo(new ModelRef("org/base", "main", "org/adapter", "v2", "LlamaForCausalLM"));
        assertThat(r.models().get(1).model()).isEqualTo(new ModelRef("org/other", "abc", null, null, null));
        assertThat(r.warnings()).isEmpty();
    }

    @Test
    void mapFormRejectsPlusInAPart() {
        AmalgamException e = Recipes.parseError("merge_method: linear\nmodels:\n  - model: {model: a+b}\n");
        assertThat(e.where().keyPath()).isEqualTo("models[0].model.model");
        assertThat(e.hint()).contains("lora");
    }
}
