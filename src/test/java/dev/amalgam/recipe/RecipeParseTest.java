package dev.amalgam.recipe;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** Reading valid recipes: the golden cases, the forms, the tokenizer, warnings and YAML details. */
class RecipeParseTest {

    @ParameterizedTest
    @ValueSource(strings = {"arcee_fusion", "breadcrumbs", "breadcrumbs_ties", "chat-template-auto",
            "chat-template-chatml", "dare_linear", "dare_ties", "della", "della_linear", "dtype-bf16-inputs",
            "dtype-fp16-no-dtype", "dtype-mixed-f32-out-bf16", "karcher", "linear", "lora", "model_stock",
            "model_stock-filter_wise", "models-gradients-filters", "multislerp", "nearswap", "nuslerp",
            "nuslerp-float32", "nuslerp-rowwise-base", "passthrough-frankenmerge", "passthrough-scale", "ram",
            "ramplus_tl", "sce", "sharded-in-out", "slerp", "slices-source-params", "task_arithmetic", "ties",
            "tokenizer-base", "tokenizer-block", "tokenizer-block-zero", "tokenizer-model",
            "tokenizer-union", "tokenizer-union-padded"})
    void everyGoldenMergeRecipeParses(String name) {
        String text = Recipes.resource("golden/" + name + ".yml");
        Recipe r = Recipe.parse(text, name + ".yml");
        assertThat(r.warnings()).isEmpty();
        assertThat(r.sourceText()).isEqualTo(text);
        assertThat(r.referencedModels()).isNotEmpty();
        assertThat((r.models() != null ? 1 : 0) + (r.slices() != null ? 1 : 0) + (r.modules() != null ? 1 : 0))
                .isEqualTo(1);
    }

    @Test
    void multiStageGoldenParsesPerDocument() {
        List<RecipeDocument> docs = Recipe.parseAll(Recipes.resource("golden/multi-two-stages.yml"), "multi.yml");
        assertThat(docs).extracting(RecipeDocument::name).containsExactly("stage1", null);
        assertThat(docs.get(0).recipe().mergeMethod()).isEqualTo("linear");
        assertThat(docs.get(1).recipe().mergeMethod()).isEqualTo("slerp");
        assertThat(docs.get(1).recipe().baseModel()).isEqualTo(ModelRef.of("stage1"));
        assertThat(docs.get(0).recipe().sourceText()).startsWith("name: stage1").doesNotContain("slerp");
        assertThat(docs.get(1).recipe().sourceText()).startsWith("---\nmerge_method: slerp");
        assertThat(docs.get(1).recipe().mergeMethodWhere().line()).isEqualTo(12);
        AmalgamException e = Recipes.parseError(Recipes.resource("golden/multi-two-stages.yml"));
        assertThat(e.getMessage()).contains("2 YAML documents");
        assertThat(e.where().line()).isEqualTo(12);
    }

    @ParameterizedTest
    @ValueSource(strings = {"moe-random", "moe-hidden", "moe-cheap-embed"})
    void moeConfigsAreNotMergeRecipes(String name) {
        AmalgamException e = Recipes.parseError(Recipes.resource("golden/" + name + ".yml"));
        assertThat(e.getMessage()).isEqualTo("missing required key 'merge_method'");
    }

    @Test
    void modelsFormFields() {
        Recipe r = Recipes.load("golden/dare_ties.yml");
        assertThat(r.mergeMethod()).isEqualTo("dare_ties");
        assertThat(r.mergeMethodWhere()).isEqualTo(Where.at("golden/dare_ties.yml", 1, 15, "merge_method"));
        assertThat(r.baseModelWhere()).isEqualTo(Where.at("golden/dare_ties.yml", 2, 13, "base_model"));
        assertThat(r.models()).extracting(m -> m.model().toString()).containsExactly("models/ft-a", "models/ft-b");
        InputModel b = r.models().get(1);
        assertThat(b.where()).isEqualTo(Where.at("golden/dare_ties.yml", 8, 5, "models[1]"));
        assertThat(b.parameters().settings().keySet()).containsExactly("density", "weight");
        assertThat(b.parameters().get("weight").where())
                .isEqualTo(Where.at("golden/dare_ties.yml", 11, 15, "models[1].parameters.weight"));
        assertThat(r.parameters().get("int8_mask").evaluate("x", 0)).isEqualTo(1.0);
        assertThat(r.dtype()).isEqualTo("bfloat16");
        assertThat(r.outDtype()).isNull();
        assertThat(r.outDtypeWhere()).isNull();
        assertThat(r.tokenizer()).isNull();
        assertThat(r.file()).isNull();
        assertThat(r.referencedModels()).extracting(ModelRef::toString)
                .containsExactly("models/base", "models/ft-a", "models/ft-b");
    }

    @Test
    void slicesFormFields() {
        Recipe r = Recipes.load("golden/passthrough-frankenmerge.yml");
        assertThat(r.slices()).hasSize(3);
        InputSlice y = r.slices().get(1).sources().getFirst();
        assertThat(y.model()).isEqualTo(ModelRef.of("models/rand-y"));
        assertThat(y.start()).isEqualTo(1);
        assertThat(y.end()).isEqualTo(4);
        assertThat(y.layerCount()).isEqualTo(3);
        assertThat(y.layerRangeWhere()).isEqualTo(
                Where.at("golden/passthrough-frankenmerge.yml", 7, 20, "slices[1].sources[0].layer_range"));
        assertThat(r.referencedModels()).extracting(ModelRef::toString).containsExactly("models/rand-x", "models/rand-y");
    }

    @Test
    void sliceBaseModelAndResidualWeight() {
        Recipe r = Recipe.parse("""
                merge_method: ties
                base_model: g
                slices:
                  - sources:
                      - model: a
                        layer_range: [0, 2]
                    base_model: s
                    residual_weight: 0.5
                """, "r.yml");
        OutputSlice s = r.slices().getFirst();
        assertThat(s.baseModel()).isEqualTo(ModelRef.of("s"));
        assertThat(s.residualWeight()).isEqualTo(0.5);
        assertThat(r.referencedModels()).extracting(ModelRef::toString).containsExactly("g", "s", "a");
        assertThat(r.warnings()).singleElement().satisfies(w -> {
            assertThat(w.message()).isEqualTo("residual_weight is never used");
            assertThat(w.where()).isEqualTo(Where.at("r.yml", 8, 5, "slices[0].residual_weight"));
        });
    }

    @Test
    void dtypesAreCanonical() {
        Recipe r = Recipe.parse("merge_method: linear\nmodels: [{model: a}]\ndtype: torch.float16\nout_dtype: int64\n", null);
        assertThat(r.dtype()).isEqualTo("float16");
        assertThat(r.outDtype()).isEqualTo("int64");
        assertThat(r.dtypeWhere()).isEqualTo(Where.at(null, 3, 8, "dtype"));
    }

    @Test
    void legacyTokenizerSource() {
        Recipe union = Recipes.load("golden/tokenizer-union.yml");
        assertThat(union.tokenizer()).satisfies(t -> {
            assertThat(t.source()).isEqualTo("union");
            assertThat(t.sourceModel()).isNull();
            assertThat(t.legacy()).isTrue();
            assertThat(t.tokens()).isEmpty();
        });
        assertThat(Recipes.load("golden/tokenizer-base.yml").tokenizer().source()).isEqualTo("base");
        TokenizerSpec model = Recipes.load("golden/tokenizer-model.yml").tokenizer();
        assertThat(model.source()).isNull();
        assertThat(model.sourceModel()).isEqualTo(ModelRef.of("models/chatml"));
    }

    @Test
    void tokenizerBlock() {
        TokenizerSpec t = Recipes.load("golden/tokenizer-block.yml").tokenizer();
        assertThat(t.legacy()).isFalse();
        assertThat(t.source()).isEqualTo("union");
        assertThat(t.padToMultipleOf()).isEqualTo(64);
        assertThat(t.tokens().keySet()).containsExactly("<|im_start|>", "<|im_end|>", "<|tool|>", "</s>");
        assertThat(t.tokens().get("<|im_start|>")).satisfies(s -> {
            assertThat(s.kind()).isEqualTo("model");
            assertThat(s.model()).isEqualTo(ModelRef.of("models/chatml"));
            assertThat(s.force()).isFalse();
        });
        assertThat(t.tokens().get("<|im_end|>")).satisfies(s -> {
            assertThat(s.kind()).isEqualTo("model_token");
            assertThat(s.token()).isEqualTo("</s>");
            assertThat(s.tokenId()).isNull();
        });
        assertThat(t.tokens().get("<|tool|>").tokenId()).isEqualTo(2);
        assertThat(t.tokens().get("</s>").force()).isTrue();
        assertThat(Recipes.load("golden/tokenizer-block-zero.yml").tokenizer().tokens().get("<|tool|>").kind())
                .isEqualTo("zero");
    }

    @Test
    void tokenizerBlockWithModelSource() {
        Recipe r = Recipe.parse("""
                merge_method: linear
                models: [{model: a}, {model: b}]
                tokenizer:
                  source: b@main
                  tokens:
                    x: {}
                """, "r.yml");
        assertThat(r.tokenizer().source()).isNull();
        assertThat(r.tokenizer().sourceModel()).isEqualTo(new ModelRef("b", "main", null, null, null));
        assertThat(r.tokenizer().tokens().get("x").kind()).isNull();
        assertThat(r.tokenizer().padToMultipleOf()).isNull();
    }

    @Test
    void chatTemplate() {
        Recipe r = Recipes.load("golden/chat-template-auto.yml");
        assertThat(r.chatTemplate()).isEqualTo("auto");
        assertThat(r.chatTemplateWhere().line()).isEqualTo(14);
        Recipe literal = Recipe.parse("merge_method: linear\nmodels: [{model: a}]\nchat_template: |\n  {{ x }}\n", "r.yml");
        assertThat(literal.chatTemplate()).isEqualTo("{{ x }}\n");
    }

    @Test
    void unknownKeysWarnWithASuggestion() {
        Recipe r = Recipe.parse("""
                merge_method: linear
                models:
                  - model: a
                    paramters:
                      weight: 1
                  - model: b
                    foo: 1
                dtyp: float16
                name: fine
                """, "r.yml");
        assertThat(r.warnings()).extracting(RecipeWarning::message)
                .containsExactly("unknown key 'dtyp'", "unknown key 'paramters'", "unknown key 'foo'");
        RecipeWarning typo = r.warnings().get(1);
        assertThat(typo.where()).isEqualTo(Where.at("r.yml", 4, 5, "models[0].paramters"));
        assertThat(typo.hint()).isEqualTo("did you mean 'parameters'?");
        assertThat(typo.render()).isEqualTo("""
                warning: unknown key 'paramters'
                  at r.yml:4:5 (models[0].paramters)
                  hint: did you mean 'parameters'?""");
        assertThat(r.warnings().get(0).where()).isEqualTo(Where.at("r.yml", 8, 1, "dtyp"));
        assertThat(r.warnings().get(0).hint()).isEqualTo("did you mean 'dtype'?");
        assertThat(r.warnings().get(2).hint()).isEqualTo("mergekit ignores unknown keys; so does Amalgam");
    }

    @Test
    void unknownKeysEverywhereAreWarnings() {
        Recipe r = Recipe.parse("""
                merge_method: linear
                slices:
                  - sources:
                      - model: {model: a, lorra: b}
                        layer_range: [0, 2]
                        layers: 3
                    sourcse: 1
                parameters:
                  weight: [{filter: mlp, value: 1, fliter: x}]
                tokenizer:
                  sorce: base
                  tokens:
                    t: {source: {kind: zero}, forse: true}
                """, "r.yml");
        assertThat(r.warnings()).extracting(RecipeWarning::message).containsExactly(
                "unknown key 'sourcse'", "unknown key 'layers'", "unknown key 'lorra'", "unknown key 'fliter'",
                "unknown key 'sorce'", "unknown key 'forse'");
        assertThat(r.warnings()).extracting(RecipeWarning::hint).contains("did you mean 'lora'?",
                "did you mean 'sources'?", "did you mean 'filter'?", "did you mean 'source'?", "did you mean 'force'?");
    }

    @Test
    void duplicateKeysKeepTheLastValueAndWarn() {
        Recipe r = Recipe.parse("merge_method: linear\nmodels: [{model: a}]\ndtype: float32\ndtype: float16\n", "r.yml");
        assertThat(r.dtype()).isEqualTo("float16");
        assertThat(r.warnings()).singleElement().satisfies(w -> {
            assertThat(w.message()).isEqualTo("duplicate key 'dtype'");
            assertThat(w.where()).isEqualTo(Where.at("r.yml", 4, 1, "dtype"));
            assertThat(w.hint()).contains("line 3:1");
        });
    }

    @Test
    void mergeKeysAndAnchors() {
        Recipe r = Recipe.parse("""
                merge_method: linear
                models:
                  - model: a
                    parameters: &common {weight: 0.5, density: 0.3}
                  - model: b
                    parameters:
                      <<: *common
                      weight: 0.7
                  - model: c
                    parameters:
                      <<: [{weight: 0.1}, {weight: 0.2, density: 0.9}]
                """, "r.yml");
        assertThat(r.models().get(1).parameters().get("weight").evaluate("x", 0)).isEqualTo(0.7);
        assertThat(r.models().get(1).parameters().get("density").evaluate("x", 0)).isEqualTo(0.3);
        assertThat(r.models().get(2).parameters().get("weight").evaluate("x", 0)).isEqualTo(0.1);
        assertThat(r.models().get(2).parameters().get("density").evaluate("x", 0)).isEqualTo(0.9);
        assertThat(r.warnings()).isEmpty();
    }

    @Test
    void emptyListsCountAsAbsent() {
        Recipe r = Recipe.parse("merge_method: linear\nmodels: []\nslices:\n  - sources: [{model: a, layer_range: [0, 1]}]\n", "r.yml");
        assertThat(r.models()).isNull();
        assertThat(r.slices()).hasSize(1);
        assertThat(r.parameters()).isSameAs(ParameterSet.EMPTY);
    }

    @Test
    void recordsAreImmutable() {
        Recipe r = Recipes.load("golden/linear.yml");
        assertThat(catchThrowableOfType(UnsupportedOperationException.class, () -> r.models().clear())).isNotNull();
        assertThat(catchThrowableOfType(UnsupportedOperationException.class,
                () -> r.parameters().settings().clear())).isNotNull();
    }

    @Test
    void parsesAFileAndNamesIt(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("recipe.yml");
        String text = "\uFEFF# a comment\nmerge_method: linear\nmodels:\n  - model: a\n";
        Files.writeString(file, text, StandardCharsets.UTF_8);
        Recipe r = Recipe.parse(file);
        assertThat(r.file()).isEqualTo(file);
        assertThat(r.sourceText()).isEqualTo(text);
        assertThat(r.mergeMethodWhere()).isEqualTo(Where.at(file.toString(), 2, 15, "merge_method"));

        Files.writeString(file, "merge_method: linear\nmodels:\n  - model: a\ndtype: f16\n");
        AmalgamException e = catchThrowableOfType(AmalgamException.class, () -> Recipe.parse(file));
        assertThat(e.render()).isEqualTo("error: unknown dtype 'f16'\n  at " + file + ":4:8 (dtype)\n"
                + "  hint: did you mean 'float16'? accepted: float16, bfloat16, float32, int64 (optionally prefixed with 'torch.')");

        Files.write(file, new byte[] {'a', ':', ' ', (byte) 0xff});
        assertThat(catchThrowableOfType(AmalgamException.class, () -> Recipe.parse(file)).where().file())
                .isEqualTo(file.toString());
        Path missing = dir.resolve("missing.yml");
        assertThat(catchThrowableOfType(AmalgamException.class, () -> Recipe.parse(missing)).kind())
                .isEqualTo(AmalgamException.Kind.IO);
    }

    @Test
    void suggest() {
        assertThat(Suggest.closest("paramters", List.of("models", "parameters"))).isEqualTo("parameters");
        assertThat(Suggest.closest("dare-ties", List.of("dare_ties", "ties"))).isEqualTo("dare_ties");
        assertThat(Suggest.closest("xyz", List.of("models", "parameters"))).isNull();
        assertThat(Suggest.closest("Slerp", List.of("slerp", "nuslerp"))).isEqualTo("slerp");
    }
}
