package dev.amalgam.recipe;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static dev.amalgam.recipe.Recipes.parseError;
import static org.assertj.core.api.Assertions.assertThat;

/** Malformed recipes: each error is RECIPE, with the exact line:column, key path and a hint. */
class RecipeErrorTest {

    private static Where at(int line, int column, String keyPath) {
        return Where.at("r.yml", line, column, keyPath);
    }

    @Test
    void unknownDtype() {
        AmalgamException e = parseError("""
                merge_method: linear
                models:
                  - model: a
                    parameters:
                      weight: 1.0
                dtype: bf16
                """);
        assertThat(e.getMessage()).isEqualTo("unknown dtype 'bf16'");
        assertThat(e.where()).isEqualTo(at(6, 8, "dtype"));
        assertThat(e.hint()).startsWith("did you mean 'bfloat16'?").contains("float16, bfloat16, float32, int64");
        assertThat(e.render()).startsWith("error: unknown dtype 'bf16'\n  at r.yml:6:8 (dtype)\n  hint: did you mean");
    }

    @Test
    void dtypeMustBeAString() {
        AmalgamException e = parseError("merge_method: linear\nmodels: [{model: a}]\nout_dtype: 16\n");
        assertThat(e.getMessage()).isEqualTo("out_dtype must be a string, not the number 16");
        assertThat(e.where()).isEqualTo(at(3, 12, "out_dtype"));
    }

    @Test
    void layerRangeBackwards() {
        AmalgamException e = parseError("""
                merge_method: passthrough
                slices:
                  - sources:
                      - model: a
                        layer_range: [0, 4]
                      - model: b
                        layer_range: [4, 2]
                """);
        assertThat(e.getMessage()).endsWith("got [4, 2]").startsWith("layer_range must be [start, end]");
        assertThat(e.where()).isEqualTo(at(7, 22, "slices[0].sources[1].layer_range"));
        assertThat(e.hint()).contains("b must be greater than a");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "[0]          | got [0]",
            "[0, 2.5]     | got [0, 2.5]",
            "[-1, 2]      | got [-1, 2]",
            "[3, 3]       | got [3, 3]",
            "'0-3'        | got the string '0-3'",
            "[0, 1, 2]    | got [0, 1, 2]"})
    void layerRangeShapes(String range, String got) {
        AmalgamException e = parseError("merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n"
                + "        layer_range: " + range + "\n");
        assertThat(e.getMessage()).endsWith(got);
        assertThat(e.where()).isEqualTo(at(5, 22, "slices[0].sources[0].layer_range"));
    }

    @Test
    void layerRangeMissing() {
        AmalgamException e = parseError("merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n");
        assertThat(e.getMessage()).isEqualTo("missing required key 'layer_range'");
        assertThat(e.where()).isEqualTo(at(4, 9, "slices[0].sources[0].layer_range"));
    }

    @Test
    void sourcesMissingOrEmpty() {
        AmalgamException e = parseError("merge_method: passthrough\nslices:\n  - sources: []\n");
        assertThat(e.getMessage()).isEqualTo("a slice needs a non-empty 'sources' list");
        assertThat(e.where()).isEqualTo(at(3, 14, "slices[0].sources"));
        e = parseError("merge_method: passthrough\nslices:\n  - parameters: {}\n");
        assertThat(e.where()).isEqualTo(at(3, 5, "slices[0].sources"));
    }

    @Test
    void modelMissing() {
        AmalgamException e = parseError("merge_method: linear\nmodels:\n  - model: a\n  - parameters: {weight: 1}\n");
        assertThat(e.getMessage()).isEqualTo("missing required key 'model'");
        assertThat(e.where()).isEqualTo(at(4, 5, "models[1].model"));
        e = parseError("merge_method: linear\nmodels: [org/a, org/b]\n");
        assertThat(e.getMessage()).isEqualTo("a model entry must be a mapping, not the string 'org/a'");
        assertThat(e.hint()).isEqualTo("write '- model: org/a'");
        assertThat(e.where()).isEqualTo(at(2, 10, "models[0]"));
    }

    @Test
    void mergeMethodMissing() {
        AmalgamException e = parseError("models:\n  - model: a\n");
        assertThat(e.getMessage()).isEqualTo("missing required key 'merge_method'");
        assertThat(e.where()).isEqualTo(at(1, 1, "merge_method"));
        assertThat(e.hint()).contains("merge_method: linear");
        e = parseError("merge_method: [linear]\nmodels:\n  - model: a\n");
        assertThat(e.getMessage()).isEqualTo("merge_method must be a string, not a list");
        assertThat(e.where()).isEqualTo(at(1, 15, "merge_method"));
    }

    @Test
    void bothModelsAndSlices() {
        AmalgamException e = parseError("""
                merge_method: linear
                models:
                  - model: a
                slices:
                  - sources:
                      - model: a
                        layer_range: [0, 2]
                """);
        assertThat(e.getMessage()).isEqualTo("Exactly one of 'models', 'slices', or 'modules' must be present");
        assertThat(e.where()).isEqualTo(at(1, 1, null));
        assertThat(e.hint()).isEqualTo("this recipe has 'models' and 'slices'; keep only one");
    }

    @Test
    void noForm() {
        AmalgamException e = parseError("merge_method: linear\nmodels: []\n");
        assertThat(e.getMessage()).isEqualTo("Exactly one of 'models', 'slices', or 'modules' must be present");
        assertThat(e.hint()).contains("empty lists do not count");
    }

    @Test
    void moduleNeedsExactlyOneForm() {
        AmalgamException e = parseError("""
                merge_method: linear
                modules:
                  text:
                    models: [{model: a}]
                    slices: [{sources: [{model: a, layer_range: [0, 1]}]}]
                """);
        assertThat(e.getMessage()).isEqualTo("module 'text' must specify either output slices or models to merge");
        assertThat(e.where()).isEqualTo(at(4, 5, "modules.text"));
    }

    @Test
    void bareConditionalMap() {
        AmalgamException e = parseError("""
                merge_method: slerp
                models:
                  - model: a
                  - model: b
                base_model: a
                parameters:
                  t:
                    filter: self_attn
                    value: 0.5
                """);
        assertThat(e.getMessage()).isEqualTo("parameter 't' is a single conditional, not a list of them");
        assertThat(e.where()).isEqualTo(at(8, 5, "parameters.t"));
        assertThat(e.hint()).contains("- filter:");
    }

    @Test
    void stringParameter() {
        AmalgamException e = parseError("""
                merge_method: linear
                models:
                  - model: a
                    parameters:
                      weight: abc
                """);
        assertThat(e.getMessage()).isEqualTo("parameter 'weight' must be a number, a list of numbers or a list of"
                + " conditionals, not the string 'abc'");
        assertThat(e.where()).isEqualTo(at(5, 15, "models[0].parameters.weight"));
        assertThat(e.hint()).contains("gradient");
    }

    @Test
    void badConditionalValue() {
        AmalgamException e = parseError("""
                merge_method: slerp
                models: [{model: a}]
                parameters:
                  t:
                    - filter: mlp
                      value: 0.3
                    - value: x
                """);
        assertThat(e.where()).isEqualTo(at(7, 14, "parameters.t[1].value"));
        e = parseError("merge_method: slerp\nmodels: [{model: a}]\nparameters:\n  t:\n    - filter: mlp\n");
        assertThat(e.getMessage()).isEqualTo("a conditional of parameter 't' has no 'value'");
        assertThat(e.where()).isEqualTo(at(5, 7, "parameters.t[0].value"));
        e = parseError("merge_method: slerp\nmodels: [{model: a}]\nparameters:\n  t: [{value: [{value: 1}]}]\n");
        assertThat(e.where()).isEqualTo(at(4, 16, "parameters.t[0].value[0]"));
        assertThat(e.hint()).contains("do not nest");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "'[1, b]'      | 4 | 10 | parameters.w[1] | gradient of parameter 'w' must hold only numbers, not the string 'b'",
            "'[]'          | 4 | 6  | parameters.w    | parameter 'w' is an empty list",
            "'~'           | 4 | 6  | parameters.w    | parameter 'w' must be a number, a list of numbers or a list of conditionals, not null",
            "'[{value: 1}, 2]' | 4 | 19 | parameters.w[1] | parameter 'w' mixes conditionals and the number 2",
            "'{a: 1}'      | 4 | 6  | parameters.w    | parameter 'w' must be a number, a list of numbers or a list of conditionals, not a mapping"})
    void badParameterValues(String value, int line, int column, String path, String message) {
        AmalgamException e = parseError("merge_method: linear\nmodels: [{model: a}]\nparameters:\n  w: " + value + "\n");
        assertThat(e.getMessage()).isEqualTo(message);
        assertThat(e.where()).isEqualTo(at(line, column, path));
    }

    @Test
    void yamlSyntaxError() {
        AmalgamException e = parseError("""
                merge_method: linear
                models:
                  - model: a
                    parameters:
                      weight: 1
                   dtype: x
                """);
        assertThat(e.getMessage()).isEqualTo("invalid YAML: expected <block end>, but found '<block mapping start>'");
        assertThat(e.where()).isEqualTo(at(6, 4, null));
        assertThat(e.hint()).isEqualTo("while parsing a block collection (line 3:3)");
        e = parseError("merge_method: linear\nmodels: [a, b\ndtype: float16\n");
        assertThat(e.where()).isEqualTo(at(3, 6, null));
    }

    @Test
    void emptyOrNotAMapping() {
        assertThat(parseError("").getMessage()).isEqualTo("the recipe is empty");
        assertThat(parseError("# nothing here\n").getMessage()).isEqualTo("the recipe is empty");
        assertThat(parseError("---\n").getMessage()).isEqualTo("the recipe is empty");
        AmalgamException e = parseError("- merge_method: linear\n");
        assertThat(e.getMessage()).startsWith("a recipe must be a mapping").endsWith("not a list");
        assertThat(e.where()).isEqualTo(at(1, 1, null));
    }

    @Test
    void bothTokenizerForms() {
        AmalgamException e = parseError("""
                merge_method: linear
                models: [{model: a}]
                tokenizer_source: union
                tokenizer:
                  source: base
                """);
        assertThat(e.getMessage()).isEqualTo("cannot specify both tokenizer_source and tokenizer");
        assertThat(e.where()).isEqualTo(at(4, 1, "tokenizer"));
    }

    @Test
    void modelTokenNeedsExactlyOneOfIdAndToken() {
        String head = "merge_method: linear\nmodels: [{model: a}]\ntokenizer:\n  tokens:\n    x:\n      source:\n";
        AmalgamException e = parseError(head + "        kind: model_token\n        model: a\n        token_id: 1\n        token: y\n");
        assertThat(e.getMessage()).isEqualTo("a model_token source needs exactly one of 'token_id' and 'token'");
        assertThat(e.where()).isEqualTo(at(7, 9, "tokenizer.tokens.x.source"));
        e = parseError(head + "        kind: model_token\n        model: a\n");
        assertThat(e.getMessage()).isEqualTo("a model_token source needs exactly one of 'token_id' and 'token'");
        e = parseError(head + "        kind: model_token\n        token_id: 1\n");
        assertThat(e.getMessage()).isEqualTo("missing required key 'model'");
        e = parseError(head + "        kind: zeros\n");
        assertThat(e.getMessage()).isEqualTo("unknown token source kind 'zeros'");
        assertThat(e.hint()).startsWith("did you mean 'zero'?");
        assertThat(e.where()).isEqualTo(at(7, 15, "tokenizer.tokens.x.source.kind"));
        e = parseError(head + "        kind: zero\n      force: maybe\n");
        assertThat(e.where()).isEqualTo(at(8, 14, "tokenizer.tokens.x.force"));
    }

    @Test
    void padToMultipleOf() {
        AmalgamException e = parseError("merge_method: linear\nmodels: [{model: a}]\ntokenizer:\n  pad_to_multiple_of: 0\n");
        assertThat(e.where()).isEqualTo(at(4, 23, "tokenizer.pad_to_multiple_of"));
        e = parseError("merge_method: linear\nmodels: [{model: a}]\ntokenizer:\n  pad_to_multiple_of: 6.5\n");
        assertThat(e.getMessage()).isEqualTo("pad_to_multiple_of must be a whole number, not the number 6.5");
    }

    @Test
    void modelReferenceMustBeAString() {
        AmalgamException e = parseError("merge_method: linear\nmodels:\n  - model: 7\n");
        assertThat(e.getMessage()).isEqualTo("a model reference must be a string, not the number 7");
        assertThat(e.hint()).isEqualTo("put it in quotes");
        assertThat(e.where()).isEqualTo(at(3, 12, "models[0].model"));
    }

    @Test
    void oddKeysGetQuotedInKeyPaths() {
        AmalgamException e = parseError("merge_method: linear\nmodules:\n  a.b:\n    models: [{model: x, parameters: {w: z}}]\n");
        assertThat(e.where().keyPath()).isEqualTo("modules[\"a.b\"].models[0].parameters.w");
    }
}
