package dev.amalgam.plan;

import dev.amalgam.error.Where;
import dev.amalgam.method.Methods;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link RecipeCheck} on merge recipes and mergekit-multi files: one test per kind of problem,
 * each asserting the severity, message, exact line:column and key path, and the hint.
 */
class RecipeCheckTest {

    static CheckResult check(String yaml) {
        return RecipeCheck.check(yaml, "r.yml");
    }

    static Where at(int line, int column, String keyPath) {
        return Where.at("r.yml", line, column, keyPath);
    }

    /** The only problem of the recipe. */
    static Problem only(String yaml) {
        CheckResult r = check(yaml);
        assertThat(r.problems()).as("problems of%n%s", yaml).hasSize(1);
        return r.problems().getFirst();
    }

    static Problem first(CheckResult r, String messageStart) {
        return r.problems().stream().filter(p -> p.message().startsWith(messageStart)).findFirst()
                .orElseThrow(() -> new AssertionError("no problem starting with '" + messageStart + "' in "
                        + r.problems()));
    }

    @Test
    void validRecipeHasNoProblems() {
        CheckResult r = check("""
                merge_method: ties
                base_model: org/base
                models:
                  - model: org/a
                    parameters: {weight: 0.5, density: 0.5}
                  - model: org/b
                    parameters: {weight: 0.5, density: 0.5}
                parameters:
                  normalize: true
                dtype: bfloat16
                """);
        assertThat(r.problems()).isEmpty();
        assertThat(r.valid()).isTrue();
        assertThat(r.kind()).isEqualTo(CheckResult.Kind.RECIPE);
        assertThat(r.summary()).isEqualTo("r.yml: valid mergekit recipe");
    }

    @Test
    void unknownMethodSuggestsTheClosest() {
        Problem p = only("merge_method: dare-ties\nbase_model: b\nmodels:\n  - model: a\n    parameters: {weight: 1}\n");
        assertThat(p.isError()).isTrue();
        assertThat(p.message()).isEqualTo("unknown merge method 'dare-ties'");
        assertThat(p.where()).isEqualTo(at(1, 15, "merge_method"));
        assertThat(p.hint()).isEqualTo("did you mean 'dare_ties'?");
    }

    @Test
    void requiredBaseModelMissing() {
        Problem p = only("merge_method: ties\nmodels:\n  - model: a\n    parameters: {weight: 1}\n");
        assertThat(p.message()).isEqualTo("ties needs a base_model");
        assertThat(p.where()).isEqualTo(at(1, 15, "merge_method"));
        assertThat(p.hint()).contains("base_model:");
    }

    @Test
    void slerpTakesExactlyTwoModels() {
        Problem p = only("""
                merge_method: slerp
                base_model: a
                models:
                  - model: a
                  - model: b
                  - model: c
                parameters:
                  t: 0.5
                """);
        assertThat(p.message()).isEqualTo("slerp merges exactly two models, got 3");
        assertThat(p.where()).isEqualTo(at(4, 5, "models[0]"));
        assertThat(p.hint()).contains("multislerp");
    }

    @Test
    void slerpNeedsItsBaseAmongTheSourcesOfASlice() {
        Problem p = only("""
                merge_method: slerp
                base_model: c
                slices:
                  - sources:
                      - model: a
                        layer_range: [0, 4]
                      - model: b
                        layer_range: [0, 4]
                parameters:
                  t: 0.5
                """);
        assertThat(p.message()).isEqualTo("slerp needs the base model among its two inputs");
        assertThat(p.where()).isEqualTo(at(4, 5, "slices[0]"));
    }

    @Test
    void passthroughTakesOneSourcePerSlice() {
        Problem p = only("""
                merge_method: passthrough
                slices:
                  - sources:
                      - model: a
                        layer_range: [0, 4]
                  - sources:
                      - model: a
                        layer_range: [4, 8]
                      - model: b
                        layer_range: [4, 8]
                """);
        assertThat(p.message()).isEqualTo("passthrough takes exactly one model per slice, got 2");
        assertThat(p.where()).isEqualTo(at(6, 5, "slices[1]"));
    }

    @Test
    void nearswapTakesTheBaseAndOneOther() {
        assumeTrue(Methods.byName("nearswap") != null, "nearswap is not registered yet");
        Problem p = only("""
                merge_method: nearswap
                base_model: a
                models:
                  - model: b
                  - model: c
                parameters:
                  t: 0.001
                """);
        assertThat(p.message()).isEqualTo("nearswap merges exactly two models, the base and one other, got 3");
        assertThat(p.where()).isEqualTo(at(4, 5, "models[0]"));
    }

    @Test
    void modelStockNeedsTwoModelsBesidesTheBase() {
        assumeTrue(Methods.byName("model_stock") != null, "model_stock is not registered yet");
        Problem p = only("merge_method: model_stock\nbase_model: a\nmodels:\n  - model: b\n");
        assertThat(p.message()).isEqualTo("model_stock needs the base model and at least two other models, got 1 other");
        assertThat(p.where()).isEqualTo(at(4, 5, "models[0]"));
    }

    @Test
    void missingGlobalParameterSaysWhereItWasMisplaced() {
        CheckResult r = check("""
                merge_method: slerp
                base_model: a
                models:
                  - model: a
                  - model: b
                    parameters:
                      t: 0.3
                """);
        Problem missing = first(r, "missing required parameter 't'");
        assertThat(missing.isError()).isTrue();
        assertThat(missing.where()).isEqualTo(at(1, 15, "merge_method"));
        assertThat(missing.hint()).contains("does not read it from a model's parameters");
        Problem ignored = first(r, "'t' is a global parameter of slerp");
        assertThat(ignored.isError()).isFalse();
        assertThat(ignored.where()).isEqualTo(at(7, 10, "models[1].parameters.t"));
        assertThat(r.problems()).hasSize(2);
    }

    @Test
    void missingPerModelParameterIsReportedAtTheModel() {
        Problem p = only("""
                merge_method: dare_ties
                base_model: base
                models:
                  - model: a
                    parameters: {weight: 0.5, density: 0.5}
                  - model: b
                    parameters: {density: 0.5}
                """);
        assertThat(p.message()).isEqualTo("missing required parameter 'weight' for model b");
        assertThat(p.where()).isEqualTo(at(6, 5, "models[1]"));
    }

    @Test
    void linearMergesAnUnlistedBaseModelAndNeedsItsWeight() {
        CheckResult r = check("""
                merge_method: linear
                base_model: base
                models:
                  - model: a
                    parameters: {weight: 1.0}
                """);
        Problem appended = first(r, "base_model base is not among the models");
        assertThat(appended.isError()).isFalse();
        assertThat(appended.where()).isEqualTo(at(2, 13, "base_model"));
        Problem weight = first(r, "missing required parameter 'weight' for model base");
        assertThat(weight.message()).endsWith("(the base model, which linear merges like any other input)");
        assertThat(weight.where()).isEqualTo(at(2, 13, "base_model"));
        assertThat(r.valid()).isFalse();
    }

    @Test
    void parameterGivenOnlyThroughFiltersWarnsWithATensorNoFilterMatches() {
        Problem p = only("""
                merge_method: slerp
                base_model: a
                models:
                  - model: a
                  - model: b
                parameters:
                  t:
                    - filter: self_attn
                      value: 0.3
                    - filter: mlp
                      value: 0.7
                """);
        assertThat(p.isError()).isFalse();
        assertThat(p.message()).isEqualTo("parameter 't' is set only for tensors whose names contain 'self_attn',"
                + " 'mlp'; others, such as model.embed_tokens.weight, get no value");
        assertThat(p.where()).isEqualTo(at(8, 5, "parameters.t"));
        assertThat(p.hint()).contains("'- value: ...'");
    }

    @Test
    void parameterOutOfRangeIsLocatedAtItsSetting() {
        Problem p = only("""
                merge_method: ties
                base_model: base
                models:
                  - model: a
                    parameters: {weight: 0.5, density: 0.5}
                  - model: b
                    parameters:
                      weight: 0.5
                      density: 1.5
                """);
        assertThat(p.isError()).isTrue();
        assertThat(p.message()).isEqualTo("density 1.5 of input 2 is outside [0, 1] (tensor model.embed_tokens.weight)");
        assertThat(p.where()).isEqualTo(at(9, 16, "models[1].parameters.density"));
    }

    @Test
    void sliceGradientIsProbedAtEveryLayer() {
        Problem p = only("""
                merge_method: della
                base_model: base
                slices:
                  - sources:
                      - model: base
                        layer_range: [0, 5]
                      - model: a
                        layer_range: [0, 5]
                        parameters:
                          weight: 1.0
                          density: [0.5, 0.5, 0.5, 0.5, 0.9]
                          epsilon: 0.1
                """);
        assertThat(p.isError()).isTrue();
        assertThat(p.message()).startsWith("epsilon 0.1 with density 0.9 of input 2 gives keep probabilities outside"
                + " (0, 1)").endsWith("(tensor model.layers.4.self_attn.q_proj.weight)");
        assertThat(p.where()).isEqualTo(at(12, 20, "slices[0].sources[1].parameters.epsilon"));
    }

    @Test
    void modelsFormGradientKnotBetweenTheEndsIsOnlyAWarning() {
        Problem p = only("""
                merge_method: ties
                base_model: base
                models:
                  - model: a
                    parameters:
                      weight: 1.0
                      density: [0.5, 1.5, 0.5]
                """);
        assertThat(p.isError()).isFalse();
        assertThat(p.message()).startsWith("density 1.5 of input 1 is outside [0, 1]");
        assertThat(p.where()).isEqualTo(at(7, 16, "models[0].parameters.density"));
        assertThat(p.hint()).contains("layer count");
    }

    @Test
    void sourcesOfASliceMustSpanEqualLayerCounts() {
        Problem p = only("""
                merge_method: linear
                slices:
                  - sources:
                      - model: a
                        layer_range: [0, 8]
                        parameters: {weight: 1}
                      - model: b
                        layer_range: [0, 6]
                        parameters: {weight: 1}
                """);
        assertThat(p.message()).isEqualTo("the sources of this slice span different numbers of layers (8 and 6)");
        assertThat(p.where()).isEqualTo(at(8, 22, "slices[0].sources[1].layer_range"));
        assertThat(p.hint()).contains("All inputs to a slice must contain the same number of layers");
    }

    @Test
    void tokenEmbeddingsMustComeFromMergedModels() {
        Problem p = only("""
                merge_method: linear
                models:
                  - model: a
                    parameters: {weight: 1}
                  - model: b
                    parameters: {weight: 1}
                tokenizer:
                  source: union
                  tokens:
                    <|im_start|>:
                      source: c
                    <|im_end|>:
                      source: b
                """);
        assertThat(p.message()).isEqualTo("token '<|im_start|>' takes its embedding from c, which is not one of the"
                + " models merged");
        assertThat(p.where()).isEqualTo(at(11, 7, "tokenizer.tokens.<|im_start|>"));
    }

    @Test
    void chatTemplateThatIsNeitherBuiltInNorJinjaIsAnError() {
        Problem p = only("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n"
                + "chat_template: chatlm\n");
        assertThat(p.isError()).isTrue();
        assertThat(p.where()).isEqualTo(at(5, 16, "chat_template"));
        assertThat(p.hint()).startsWith("did you mean 'chatml'?");
    }

    @Test
    void unusedParameterSuggestsTheDeclaredOne() {
        CheckResult r = check("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weigth: 1}\n");
        Problem unused = first(r, "parameter 'weigth' is not used by linear");
        assertThat(unused.isError()).isFalse();
        assertThat(unused.where()).isEqualTo(at(4, 26, "models[0].parameters.weigth"));
        assertThat(unused.hint()).isEqualTo("did you mean 'weight'?");
        assertThat(first(r, "missing required parameter 'weight' for model a").isError()).isTrue();
    }

    @Test
    void topLevelParameterGetsAHintWhereItBelongs() {
        Problem p = only("""
                merge_method: ties
                base_model: base
                models:
                  - model: a
                    parameters: {weight: 1}
                density: 0.5
                """);
        assertThat(p.message()).isEqualTo("unknown key 'density'");
        assertThat(p.where()).isEqualTo(at(6, 1, "density"));
        assertThat(p.hint()).isEqualTo("'density' is a parameter of ties; mergekit ignores it here: move it under"
                + " the top-level 'parameters:', indented below it");
    }

    @Test
    void yamlSyntaxErrorIsOneLocatedProblem() {
        Problem p = only("merge_method: linear\nmodels:\n  - model: a\n   parameters: {weight: 1}\n");
        assertThat(p.isError()).isTrue();
        assertThat(p.message()).startsWith("invalid YAML");
        assertThat(p.where().file()).isEqualTo("r.yml");
        assertThat(p.where().line()).isEqualTo(4);
    }

    @Test
    void structureErrorKeepsTheUnknownKeyThatCausedIt() {
        CheckResult r = check("merge_methd: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n");
        assertThat(r.problems()).hasSize(2);
        Problem missing = r.errors().getFirst();
        assertThat(missing.message()).isEqualTo("missing required key 'merge_method'");
        Problem typo = r.warnings().getFirst();
        assertThat(typo.message()).isEqualTo("unknown key 'merge_methd'");
        assertThat(typo.where()).isEqualTo(at(1, 1, "merge_methd"));
        assertThat(typo.hint()).isEqualTo("did you mean 'merge_method'?");
    }

    @Test
    void moeKeysInARecipeWithAMergeMethod() {
        CheckResult r = check("merge_method: moe\nbase_model: b\nexperts:\n  - source_model: x\n");
        assertThat(r.errors()).extracting(Problem::message)
                .containsExactly("Exactly one of 'models', 'slices', or 'modules' must be present");
        Problem experts = first(r, "unknown key 'experts'");
        assertThat(experts.where()).isEqualTo(at(3, 1, "experts"));
        assertThat(experts.hint()).contains("remove merge_method");
    }

    @Test
    void documentThatIsNotYamlDoesNotCountAsUnnamed() {
        CheckResult r = check("name: a\nmerge_method: [\n---\nmerge_method: linear\n"
                + "models: [{model: x, parameters: {weight: 1}}]\n");
        assertThat(r.problems()).hasSize(1);
        assertThat(r.errors().getFirst().message()).startsWith("invalid YAML");
        assertThat(r.merges()).containsExactly(null, null);
    }

    @Test
    void emptyFile() {
        Problem p = only("# nothing yet\n");
        assertThat(p.message()).isEqualTo("the recipe is empty");
        assertThat(p.where()).isEqualTo(at(1, 1, null));
    }

    @Test
    void int64DtypeWarns() {
        Problem p = only("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\ndtype: int64\n");
        assertThat(p.isError()).isFalse();
        assertThat(p.where()).isEqualTo(at(5, 8, "dtype"));
    }

    @Test
    void problemsAreSortedByLocation() {
        CheckResult r = check("""
                merge_method: linear
                models:
                  - model: a
                    parameters: {weight: 1, densty: 0.5}
                  - model: b
                chat_template: chatlm
                """);
        assertThat(r.problems()).extracting(p -> p.where().line()).containsExactly(4, 5, 6);
        assertThat(r.summary()).isEqualTo("r.yml: invalid mergekit recipe: 2 errors, 1 warning");
    }

    @Test
    void multiFileWithReferencesIsValid() {
        CheckResult r = check("""
                name: first
                merge_method: linear
                models:
                  - model: org/a
                  - model: org/b
                parameters:
                  weight: 0.5
                ---
                merge_method: slerp
                base_model: org/c
                models:
                  - model: first
                parameters:
                  t: 0.5
                """);
        assertThat(r.problems()).isEmpty();
        assertThat(r.kind()).isEqualTo(CheckResult.Kind.MULTI);
        assertThat(r.merges()).containsExactly("first", null);
        assertThat(r.summary()).isEqualTo("r.yml: valid mergekit-multi recipe with 2 merges");
    }

    @Test
    void multiFileListsTheErrorsOfEveryDocument() {
        CheckResult r = check("""
                name: a
                merge_method: slerpp
                models: [{model: x}, {model: y}]
                ---
                name: b
                merge_method: linear
                models:
                  - model: a
                    parameters: {weight: 1}
                dtype: bf16
                """);
        assertThat(r.errors()).extracting(Problem::where).containsExactly(at(2, 15, "merge_method"),
                at(10, 8, "dtype"));
    }

    @Test
    void duplicateMergeName() {
        CheckResult r = check("""
                name: a
                merge_method: linear
                models: [{model: x, parameters: {weight: 1}}]
                ---
                name: a
                merge_method: linear
                models: [{model: y, parameters: {weight: 1}}]
                """);
        Problem p = first(r, "duplicate merge name 'a'");
        assertThat(p.where()).isEqualTo(at(5, 7, "name"));
        assertThat(p.hint()).contains("document 1 (line 1)");
    }

    @Test
    void twoUnnamedMerges() {
        CheckResult r = check("""
                merge_method: linear
                models: [{model: x, parameters: {weight: 1}}]
                ---
                merge_method: linear
                models: [{model: y, parameters: {weight: 1}}]
                """);
        Problem p = only1(r);
        assertThat(p.message()).isEqualTo("document 2 has no name, and neither has document 1");
        assertThat(p.where()).isEqualTo(at(3, 1, null));
    }

    private static Problem only1(CheckResult r) {
        assertThat(r.problems()).hasSize(1);
        return r.problems().getFirst();
    }

    @Test
    void cycleBetweenMerges() {
        CheckResult r = check("""
                name: a
                merge_method: linear
                models: [{model: b, parameters: {weight: 1}}]
                ---
                name: b
                merge_method: linear
                models:
                  - model: a
                    parameters: {weight: 1}
                """);
        Problem p = only1(r);
        assertThat(p.message()).isEqualTo("merges use each other's output in a cycle: a -> b -> a");
        assertThat(p.where()).isEqualTo(at(8, 5, "models[0]"));
    }

    @Test
    void mergeUsingItsOwnOutput() {
        CheckResult r = check("""
                name: a
                merge_method: linear
                models: [{model: a, parameters: {weight: 1}}]
                ---
                merge_method: linear
                models: [{model: a, parameters: {weight: 1}}]
                """);
        Problem p = only1(r);
        assertThat(p.message()).isEqualTo("merge 'a' uses its own output");
        assertThat(p.where()).isEqualTo(at(3, 10, "models[0]"));
    }

    @Test
    void nearMissReferenceAndUnusedMergeWarn() {
        CheckResult r = check("""
                name: first-merge
                merge_method: linear
                models: [{model: x, parameters: {weight: 1}}]
                ---
                merge_method: linear
                models:
                  - model: first_merge
                    parameters: {weight: 1}
                """);
        Problem unused = first(r, "merge 'first-merge' is not used by any other merge");
        assertThat(unused.where()).isEqualTo(at(1, 7, "name"));
        Problem near = first(r, "model 'first_merge' is not the name of a merge in this file");
        assertThat(near.where()).isEqualTo(at(7, 5, "models[0]"));
        assertThat(near.hint()).startsWith("did you mean 'first-merge'?");
        assertThat(r.valid()).isTrue();
    }

    @Test
    void emptyAndMoeDocumentsInAMultiFile() {
        CheckResult r = check("""
                name: a
                merge_method: linear
                models: [{model: x, parameters: {weight: 1}}]
                ---
                # nothing
                ---
                base_model: a
                experts:
                  - source_model: x
                    positive_prompts: ["hi"]
                """);
        assertThat(r.errors()).extracting(Problem::message, Problem::where).containsExactly(
                org.assertj.core.groups.Tuple.tuple("document 2 is empty", at(4, 1, null)),
                org.assertj.core.groups.Tuple.tuple("document 3 is a mergekit-moe recipe", at(6, 1, null)));
    }

    @Test
    void referencesIncludeTokenizerSources() {
        CheckResult r = check("""
                name: a
                merge_method: linear
                models: [{model: x, parameters: {weight: 1}}]
                ---
                merge_method: linear
                models: [{model: y, parameters: {weight: 1}}]
                tokenizer:
                  source: a
                """);
        assertThat(r.problems()).isEmpty();
        assertThat(List.copyOf(RecipeCheck.references(dev.amalgam.recipe.Recipe.parse("""
                merge_method: linear
                models: [{model: y}]
                tokenizer:
                  source: a
                """, "r.yml")).keySet())).extracting(Object::toString).containsExactly("y", "a");
    }
}
