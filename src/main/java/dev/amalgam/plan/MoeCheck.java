package dev.amalgam.plan;

import dev.amalgam.error.Where;
import dev.amalgam.recipe.MoeRecipe;
import dev.amalgam.recipe.MoeRecipe.Expert;
import dev.amalgam.recipe.Suggest;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * What mergekit-moe would reject in a {@link MoeRecipe} before loading a model: missing keys,
 * unknown gate modes and dtypes, too few experts for {@code experts_per_token}, experts without
 * prompts or with identical prompts, all experts the same model, and shared-expert layouts that
 * no output architecture (Mixtral, DeepSeek MoE, Qwen MoE, Qwen3 MoE) can take. Plan stage; the
 * model types each architecture needs are only known from the models and are not checked.
 */
final class MoeCheck {

    /** Gate modes mergekit-moe's router implements ({@code hidden_avg}, {@code hidden_last} undocumented). */
    static final List<String> GATE_MODES = List.of("hidden", "cheap_embed", "random", "uniform_random", "hidden_avg",
            "hidden_last");
    private static final List<String> DTYPES = List.of("float16", "bfloat16", "float32", "int64");
    private static final Map<String, String> DTYPE_ALIASES = Map.of("bf16", "bfloat16", "fp16", "float16",
            "half", "float16", "fp32", "float32", "float", "float32");
    private static final List<String> ARCHITECTURES = List.of("Mixtral", "DeepSeek MoE", "Qwen MoE", "Qwen3 MoE");

    private final MoeRecipe r;
    private final List<Problem> out;

    private MoeCheck(MoeRecipe r, List<Problem> out) {
        this.r = r;
        this.out = out;
    }

    /** Adds every problem of {@code recipe} (its parse warnings included) to {@code out}. */
    static void run(MoeRecipe recipe, List<Problem> out) {
        new MoeCheck(recipe, out).run();
    }

    private void run() {
        r.warnings().forEach(w -> out.add(Problem.of(w)));
        if (r.baseModel() == null) {
            out.add(Problem.error("missing required key 'base_model'", r.baseModelWhere() != null
                    ? r.baseModelWhere() : r.where().withKeyPath("base_model"),
                    "name the model that gives the attention, norms and embeddings: 'base_model: org/name'"));
        }
        if (r.experts() == null) {
            out.add(Problem.error("missing required key 'experts'", r.where().withKeyPath("experts"),
                    "list the expert models: 'experts: [{source_model: org/name, positive_prompts: [...]}]'"));
        }
        gateMode();
        dtype();
        counts();
        prompts();
        shared();
        architecture();
    }

    private void gateMode() {
        if (!GATE_MODES.contains(r.gateMode())) {
            String near = Suggest.closest(r.gateMode(), GATE_MODES);
            out.add(Problem.error("unknown gate_mode '" + r.gateMode() + "'", r.gateModeWhere(),
                    (near != null ? "did you mean '" + near + "'? " : "")
                            + "gate modes: hidden, cheap_embed, random, uniform_random"));
        }
    }

    private void dtype() {
        if (r.dtype() == null || r.dtype().isEmpty()) {
            return;
        }
        String name = r.dtype().startsWith("torch.") ? r.dtype().substring("torch.".length()) : r.dtype();
        if (!DTYPES.contains(name)) {
            String near = DTYPE_ALIASES.getOrDefault(name.toLowerCase(Locale.ROOT), Suggest.closest(name, DTYPES));
            out.add(Problem.error("unknown dtype '" + r.dtype() + "'", r.dtypeWhere(),
                    (near != null ? "did you mean '" + near + "'? " : "") + "accepted: " + String.join(", ", DTYPES)));
        }
    }

    private void counts() {
        Where where = r.expertsPerTokenWhere() != null ? r.expertsPerTokenWhere() : r.expertsWhere();
        if (r.expertsPerToken() < 1) {
            out.add(Problem.error("experts_per_token must be at least 1, not " + r.expertsPerToken(), where, null));
        } else if (r.experts() != null && r.experts().size() < r.expertsPerToken()) {
            out.add(Problem.error(String.format(Locale.ROOT, "experts_per_token is %d but there %s only %d expert%s",
                            r.expertsPerToken(), r.experts().size() == 1 ? "is" : "are", r.experts().size(),
                            r.experts().size() == 1 ? "" : "s"), where,
                    "each token is routed to experts_per_token experts, so list at least that many"
                            + (r.expertsPerTokenWhere() == null ? " (the default is 2)" : "")));
        }
    }

    /** mergekit's {@code is_bad_config}: everything but gate_mode random needs distinct prompts and models. */
    private void prompts() {
        List<Expert> experts = r.experts();
        if (experts == null || experts.isEmpty() || r.gateMode().equals("random")) {
            return;
        }
        boolean allPrompted = true;
        for (int i = 0; i < experts.size(); i++) {
            Expert e = experts.get(i);
            if (e.positivePrompts() == null || e.positivePrompts().isEmpty()) {
                allPrompted = false;
                out.add(Problem.error("expert " + i + " (" + e.sourceModel() + ") has no positive_prompts",
                        e.where(), "gate_mode " + r.gateMode() + " builds each gate from the expert's prompts; give"
                                + " it 'positive_prompts: [...]' (only gate_mode random works without prompts)"));
            }
        }
        if (allPrompted && experts.stream().allMatch(e -> e.positivePrompts().equals(experts.getFirst().positivePrompts())
                && Objects.equals(orEmpty(e.negativePrompts()), orEmpty(experts.getFirst().negativePrompts())))) {
            out.add(Problem.error("every expert has the same positive and negative prompts", r.expertsWhere(),
                    "prompts tell the gates which tokens go to which expert, so each expert needs its own; mergekit-moe"
                            + " refuses identical ones (use gate_mode random to upcycle for training)"));
        }
        if (experts.stream().allMatch(e -> e.sourceModel().equals(experts.getFirst().sourceModel()))) {
            out.add(Problem.error("every expert is the same model, " + experts.getFirst().sourceModel(),
                    r.expertsWhere(), "the result would answer like that one model at a higher cost; mergekit-moe"
                            + " runs it only with --i-understand-this-is-not-useful-without-training"));
        }
    }

    private static List<String> orEmpty(List<String> list) {
        return list == null ? List.of() : list;
    }

    private void shared() {
        List<Expert> shared = r.sharedExperts();
        if (shared == null || shared.isEmpty()) {
            return;
        }
        boolean any = shared.stream().anyMatch(MoeCheck::prompted);
        if (!shared.stream().allMatch(e -> prompted(e) == any)) {
            out.add(Problem.error("some shared experts have positive_prompts and some do not", r.sharedExpertsWhere(),
                    "give prompts to every shared expert or to none"));
        }
    }

    private static boolean prompted(Expert e) {
        return e.positivePrompts() != null && !e.positivePrompts().isEmpty();
    }

    /** The output architectures the recipe can select, from what the recipe alone decides. */
    private void architecture() {
        List<String> candidates = ARCHITECTURES;
        if (r.architecture() != null) {
            String prefix = r.architecture().toLowerCase(Locale.ROOT);
            candidates = ARCHITECTURES.stream().filter(a -> a.toLowerCase(Locale.ROOT).startsWith(prefix)).toList();
            if (candidates.isEmpty()) {
                String near = Suggest.closest(r.architecture(), List.of("mixtral", "deepseek", "qwen", "qwen3"));
                out.add(Problem.error("no output architecture matches '" + r.architecture() + "'",
                        r.architectureWhere(), (near != null ? "did you mean '" + near + "'? " : "")
                                + "mergekit-moe writes " + String.join(", ", ARCHITECTURES)
                                + "; 'architecture' is matched as a prefix of these names"));
                return;
            }
        }
        if (candidates.stream().noneMatch(this::supports)) {
            int n = r.sharedExperts() == null ? 0 : r.sharedExperts().size();
            out.add(Problem.error(String.format(Locale.ROOT, "no output architecture%s takes %d shared expert%s%s",
                            r.architecture() == null ? "" : " matching '" + r.architecture() + "'", n,
                            n == 1 ? "" : "s", n > 0 && r.sharedExperts().stream().anyMatch(MoeCheck::prompted)
                                    ? " with prompts" : n > 0 ? " without prompts" : ""),
                    r.sharedExpertsWhere() != null ? r.sharedExpertsWhere() : r.architectureWhere(),
                    "Mixtral and Qwen3 MoE take none; DeepSeek MoE at most one, without prompts; Qwen MoE exactly"
                            + " one, with prompts unless gate_mode is random"));
        }
    }

    private boolean supports(String arch) {
        List<Expert> shared = r.sharedExperts() == null ? List.of() : r.sharedExperts();
        return switch (arch) {
            case "DeepSeek MoE" -> shared.size() <= 1 && (shared.isEmpty()
                    || (shared.getFirst().positivePrompts() == null || shared.getFirst().positivePrompts().isEmpty())
                    && (shared.getFirst().negativePrompts() == null || shared.getFirst().negativePrompts().isEmpty()));
            case "Qwen MoE" -> shared.size() == 1 && (r.gateMode().equals("random") || prompted(shared.getFirst()));
            default -> shared.isEmpty();
        };
    }
}
