package dev.amalgam.plan;

import org.junit.jupiter.api.Test;

import static dev.amalgam.plan.RecipeCheckTest.at;
import static dev.amalgam.plan.RecipeCheckTest.check;
import static dev.amalgam.plan.RecipeCheckTest.first;
import static dev.amalgam.plan.RecipeCheckTest.only;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link RecipeCheck} on mergekit-moe recipes: structure, and every reason mergekit-moe refuses a
 * recipe before loading a model, each located.
 */
class MoeCheckTest {

    private static final String EXPERTS = """
            experts:
              - source_model: org/code
                positive_prompts: ["write a function"]
              - source_model: org/math
                positive_prompts: ["solve"]
                negative_prompts: ["story"]
            """;

    @Test
    void validMoeRecipe() {
        CheckResult r = check("base_model: org/base\ngate_mode: hidden\ndtype: bfloat16\n" + EXPERTS);
        assertThat(r.kind()).isEqualTo(CheckResult.Kind.MOE);
        assertThat(r.problems()).isEmpty();
        assertThat(r.summary()).isEqualTo("r.yml: valid mergekit-moe recipe");
    }

    @Test
    void detectedByGateModeAlone() {
        CheckResult r = check("gate_mode: random\nbase_model: b\n");
        assertThat(r.kind()).isEqualTo(CheckResult.Kind.MOE);
        Problem p = first(r, "missing required key 'experts'");
        assertThat(p.where()).isEqualTo(at(1, 1, "experts"));
    }

    @Test
    void missingBaseModelAfterAMisspeltKey() {
        CheckResult r = check("base_modle: org/base\n" + EXPERTS);
        assertThat(first(r, "unknown key 'base_modle'").hint()).isEqualTo("did you mean 'base_model'?");
        Problem missing = first(r, "missing required key 'base_model'");
        assertThat(missing.isError()).isTrue();
        assertThat(missing.where()).isEqualTo(at(1, 1, "base_model"));
    }

    @Test
    void unknownGateMode() {
        Problem p = only("base_model: b\ngate_mode: cheap-embed\n" + EXPERTS);
        assertThat(p.message()).isEqualTo("unknown gate_mode 'cheap-embed'");
        assertThat(p.where()).isEqualTo(at(2, 12, "gate_mode"));
        assertThat(p.hint()).startsWith("did you mean 'cheap_embed'?");
    }

    @Test
    void unknownDtype() {
        Problem p = only("base_model: b\ndtype: bf16\n" + EXPERTS);
        assertThat(p.message()).isEqualTo("unknown dtype 'bf16'");
        assertThat(p.where()).isEqualTo(at(2, 8, "dtype"));
        assertThat(p.hint()).startsWith("did you mean 'bfloat16'?");
    }

    @Test
    void moreExpertsPerTokenThanExperts() {
        Problem p = only("base_model: b\nexperts_per_token: 3\n" + EXPERTS);
        assertThat(p.message()).isEqualTo("experts_per_token is 3 but there are only 2 experts");
        assertThat(p.where()).isEqualTo(at(2, 20, "experts_per_token"));
    }

    @Test
    void defaultExpertsPerTokenNeedsTwoExperts() {
        Problem p = only("base_model: b\ngate_mode: random\nexperts:\n  - source_model: x\n");
        assertThat(p.message()).isEqualTo("experts_per_token is 2 but there is only 1 expert");
        assertThat(p.where()).isEqualTo(at(4, 3, "experts"));
        assertThat(p.hint()).endsWith("(the default is 2)");
    }

    @Test
    void expertsPerTokenBelowOne() {
        Problem p = only("base_model: b\nexperts_per_token: 0\n" + EXPERTS);
        assertThat(p.message()).isEqualTo("experts_per_token must be at least 1, not 0");
    }

    @Test
    void expertWithoutPromptsUnlessRandom() {
        String yaml = """
                base_model: b
                gate_mode: %s
                experts:
                  - source_model: org/code
                    positive_prompts: ["code"]
                  - source_model: org/math
                """;
        Problem p = only(yaml.formatted("uniform_random"));
        assertThat(p.message()).isEqualTo("expert 1 (org/math) has no positive_prompts");
        assertThat(p.where()).isEqualTo(at(6, 5, "experts[1]"));
        assertThat(check(yaml.formatted("random")).problems()).isEmpty();
    }

    @Test
    void identicalPromptsAndIdenticalModels() {
        CheckResult r = check("""
                base_model: b
                experts:
                  - source_model: org/same
                    positive_prompts: [""]
                  - source_model: org/same
                    positive_prompts: [""]
                """);
        assertThat(r.errors()).extracting(Problem::message).containsExactly(
                "every expert has the same positive and negative prompts",
                "every expert is the same model, org/same");
        assertThat(r.errors().getFirst().where()).isEqualTo(at(3, 3, "experts"));
    }

    @Test
    void anchorsAndAliasesAreFollowed() {
        CheckResult r = check("""
                base_model: b
                experts:
                  - source_model: org/a
                    positive_prompts: &p ["chat"]
                    negative_prompts: &n ["story"]
                  - source_model: org/b
                    positive_prompts: *n
                    negative_prompts: *p
                """);
        assertThat(r.problems()).isEmpty();
    }

    @Test
    void sharedExpertsMustAllHavePromptsOrNone() {
        CheckResult r = check("base_model: b\n" + EXPERTS + """
                shared_experts:
                  - source_model: org/s1
                    positive_prompts: ["x"]
                  - source_model: org/s2
                """);
        Problem p = first(r, "some shared experts have positive_prompts and some do not");
        assertThat(p.where()).isEqualTo(at(9, 3, "shared_experts"));
        assertThat(first(r, "no output architecture takes 2 shared experts").isError()).isTrue();
    }

    @Test
    void mixtralTakesNoSharedExpert() {
        Problem p = only("base_model: b\narchitecture: mixtral\n" + EXPERTS
                + "shared_experts:\n  - source_model: org/s\n");
        assertThat(p.message()).isEqualTo("no output architecture matching 'mixtral' takes 1 shared expert without"
                + " prompts");
        assertThat(p.where()).isEqualTo(at(10, 3, "shared_experts"));
    }

    @Test
    void qwenTakesOneSharedExpertWithPromptsDeepSeekOneWithout() {
        String yaml = "base_model: b\narchitecture: qwen\n" + EXPERTS + "shared_experts:\n  - source_model: org/s\n";
        assertThat(check(yaml).valid()).isFalse();
        assertThat(check(yaml + "    positive_prompts: [\"all\"]").valid()).isTrue();
        assertThat(check(yaml.replace("architecture: qwen", "architecture: qwen3") + "    positive_prompts: [\"all\"]")
                .valid()).isFalse();
        assertThat(check(yaml.replace("architecture: qwen", "architecture: deepseek")).valid()).isTrue();
    }

    @Test
    void unknownArchitecture() {
        Problem p = only("base_model: b\narchitecture: mixtrall\n" + EXPERTS);
        assertThat(p.message()).isEqualTo("no output architecture matches 'mixtrall'");
        assertThat(p.where()).isEqualTo(at(2, 15, "architecture"));
        assertThat(p.hint()).startsWith("did you mean 'mixtral'?");
    }

    @Test
    void misspeltExpertKey() {
        CheckResult r = check("""
                base_model: b
                experts:
                  - source_model: org/a
                    positive_prompt: ["x"]
                  - source_model: org/b
                    positive_prompts: ["y"]
                """);
        Problem typo = first(r, "unknown key 'positive_prompt'");
        assertThat(typo.where()).isEqualTo(at(4, 5, "experts[0].positive_prompt"));
        assertThat(typo.hint()).isEqualTo("did you mean 'positive_prompts'?");
        assertThat(first(r, "expert 0 (org/a) has no positive_prompts").isError()).isTrue();
    }

    @Test
    void promptsMustBeAList() {
        Problem p = only("base_model: b\nexperts:\n  - source_model: a\n    positive_prompts: \"As a doctor,\"\n"
                + "  - source_model: c\n    positive_prompts: [\"x\"]\n");
        assertThat(p.message()).isEqualTo("positive_prompts must be a list, not the string 'As a doctor,'");
        assertThat(p.where()).isEqualTo(at(4, 23, "experts[0].positive_prompts"));
    }

    @Test
    void expertNeedsASourceModel() {
        Problem p = only("base_model: b\nexperts:\n  - positive_prompts: [\"x\"]\n");
        assertThat(p.message()).isEqualTo("missing required key 'source_model'");
        assertThat(p.where()).isEqualTo(at(3, 5, "experts[0].source_model"));
    }
}
