package dev.amalgam.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.model.Configs;
import dev.amalgam.model.Model;
import dev.amalgam.model.ModelLocator;
import dev.amalgam.recipe.ModelRef;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.recipe.TokenSpec;
import dev.amalgam.recipe.TokenizerSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Builds the {@link TokenizerPlan} of a recipe at plan time, as mergekit's tokenizer step does,
 * and checks the tokenizer options against the models before any tensor is read. Tokenizer stage.
 *
 * <p>The output vocabulary: {@code base} is the base model's tokenizer (the recipe's
 * {@code base_model}, else its first model) stripped to its config's {@code vocab_size};
 * a model reference is that model's tokenizer as it is; {@code union} starts from the stripped
 * base and, walking each tokenizer by ascending id (base first, then the other models in recipe
 * order, each up to its own {@code vocab_size}), adds every token the base lacks as a normal
 * added token, then every model's added-token definitions (the first definition of a text
 * wins). Tokens named under {@code tokenizer.tokens} are added last. Each merged model then gets a
 * permutation: for each output id, the model's own id of that token, or -1.
 */
public final class TokenizerPlanner {

    private final Recipe recipe;
    private final Map<ModelRef, Model> models;
    private final Map<ModelRef, Long> vocabRows;
    private final ModelLocator locator;
    private final List<String> warnings;
    private final Map<ModelRef, HfTokenizer> raw = new HashMap<>();
    private final Set<ModelRef> loaded = new LinkedHashSet<>();

    private TokenizerPlanner(Recipe recipe, Map<ModelRef, Model> models, Map<ModelRef, Long> vocabRows,
                             ModelLocator locator, List<String> warnings) {
        this.recipe = recipe;
        this.models = models;
        this.vocabRows = vocabRows;
        this.locator = locator;
        this.warnings = warnings;
    }

    /**
     * The tokenizer plan, or null when the recipe neither builds a tokenizer nor sets a chat
     * template (the donor's files are then copied verbatim).
     *
     * @param models    the opened merged models in recipe order
     * @param vocabRows per model, the rows of its embedding matrices (the smallest), where it has one
     * @param donor     the model config.json and tokenizer files come from
     * @param warnings  receives what the user should know
     */
    public static TokenizerPlan plan(Recipe recipe, Map<ModelRef, Model> models, Map<ModelRef, Long> vocabRows,
                                     ModelRef donor, ModelLocator locator, List<String> warnings) {
        return new TokenizerPlanner(recipe, models, vocabRows, locator, warnings).build(donor);
    }

    private TokenizerPlan build(ModelRef donor) {
        TokenizerSpec spec = recipe.tokenizer();
        String chat = recipe.chatTemplate();
        if (spec == null) {
            if (chat == null || chat.isEmpty()) {
                return null;
            }
            String template = ChatTemplates.resolve(chat, recipe.chatTemplateWhere(), inputTemplates());
            HfTokenizer tok = load(donor);
            if (tok == null) {
                warnings.add("chat_template is set, but " + donor + " has no tokenizer to apply it to; "
                        + "no tokenizer is written");
                return null;
            }
            if (template == null) {
                warnings.add("chat_template: auto found no chat template among the input models; the tokenizer is "
                        + "copied as it is");
                return null;
            }
            return new TokenizerPlan(false, tok, template, tok.size(), tok.size(), Map.of(), Map.of(), Map.of(),
                    null, tok);
        }
        ModelRef baseRef = recipe.baseModel() != null ? recipe.baseModel() : recipe.referencedModels().getFirst();
        HfTokenizer baseRaw = load(baseRef);
        if (baseRaw == null) {
            throw AmalgamException.input("the base model " + baseRef + " has no tokenizer (tokenizer.json, "
                    + "tokenizer.model or vocab.json)", spec.where(), "the output vocabulary is built on the base "
                    + "model's tokenizer; add its tokenizer files, or name another base_model");
        }
        HfTokenizer base = baseRaw.copy();
        base.strip(vocabSize(baseRef, baseRaw));
        Map<ModelRef, HfTokenizer> toks = new LinkedHashMap<>();
        toks.put(baseRef, base);
        for (ModelRef m : models.keySet()) {
            if (!m.equals(baseRef)) {
                HfTokenizer t = load(m);
                if (t == null) {
                    warnings.add(m + " has no tokenizer; its vocabulary is taken to be the base model's");
                    t = base;
                }
                toks.put(m, t);
            }
        }
        HfTokenizer out;
        if (spec.sourceModel() != null) {
            out = sourceModel(spec);
        } else if (spec.source().equals("base")) {
            out = base.copy();
        } else {
            out = union(base, toks);
        }
        for (Map.Entry<String, TokenSpec> e : spec.tokens().entrySet()) {
            check(e.getKey(), e.getValue(), toks);
            out.add(AddedToken.normal(-1, e.getKey()));
        }
        if (out.changed() && !out.hasTokenizerJson()) {
            throw AmalgamException.input("the output vocabulary differs from " + out.owner() + "'s, whose tokenizer "
                    + "has no tokenizer.json (" + out.modelType() + ") for Amalgam to write it to", spec.where(),
                    "load and save that tokenizer once with transformers to create tokenizer.json");
        }
        int v = out.size();
        int padded = v;
        if (spec.padToMultipleOf() != null && v % spec.padToMultipleOf() != 0) {
            padded = (v / spec.padToMultipleOf() + 1) * spec.padToMultipleOf();
        }
        Map<ModelRef, int[]> perms = new LinkedHashMap<>();
        for (ModelRef m : models.keySet()) {
            perms.put(m, permutation(m, toks.get(m), out, v));
        }
        warnUnsourced(out, v, perms, spec.tokens());
        String template = ChatTemplates.resolve(chat, recipe.chatTemplateWhere(), inputTemplates());
        return new TokenizerPlan(true, out, template, v, padded, Collections.unmodifiableMap(perms), spec.tokens(),
                Collections.unmodifiableMap(toks), recipe.baseModel(), load(donor));
    }

    private HfTokenizer sourceModel(TokenizerSpec spec) {
        ModelRef ref = spec.sourceModel();
        if (!models.containsKey(ref)) {
            if (ref.hasLora()) {
                throw AmalgamException.input("tokenizer_source " + ref + ": a LoRA reference has no tokenizer of "
                        + "its own", spec.where(), "name the base model the adapter belongs to");
            }
            Path dir = locator.locate(ref.path(), ref.revision(), spec.where());
            HfTokenizer t = HfTokenizer.read(dir, ref.toString());
            raw.put(ref, t);
            loaded.add(ref);
        }
        HfTokenizer t = load(ref);
        if (t == null) {
            throw AmalgamException.input("tokenizer_source " + ref + " has no tokenizer (tokenizer.json, "
                    + "tokenizer.model or vocab.json)", spec.where(), "name a model directory that has tokenizer "
                    + "files, or use 'base' or 'union'");
        }
        return t.copy();
    }

    /** mergekit's union vocabulary, walking each tokenizer by ascending id. */
    private HfTokenizer union(HfTokenizer base, Map<ModelRef, HfTokenizer> toks) {
        Set<String> plain = new LinkedHashSet<>();
        Map<String, AddedToken> defs = new LinkedHashMap<>();
        Set<String> conflicts = new LinkedHashSet<>();
        for (Map.Entry<ModelRef, HfTokenizer> e : toks.entrySet()) {
            HfTokenizer t = e.getValue();
            int vs = vocabSize(e.getKey(), t);
            t.vocab().forEach((tok, id) -> {
                if (id < vs) {
                    plain.add(tok);
                }
            });
            for (AddedToken a : t.addedTokens()) {
                if (a.id() >= vs) {
                    continue;
                }
                AddedToken have = defs.putIfAbsent(a.content(), a);
                if (have != null && !have.sameDefinition(a)) {
                    conflicts.add(a.content());
                }
            }
        }
        if (!conflicts.isEmpty()) {
            warnings.add("added tokens defined differently by different models keep their first definition: "
                    + conflicts.stream().limit(10).toList());
        }
        HfTokenizer out = base.copy();
        for (String tok : plain) {
            if (!defs.containsKey(tok) && base.id(tok) < 0) {
                out.add(AddedToken.normal(-1, tok));
            }
        }
        defs.values().forEach(out::add);
        return out;
    }

    /** Checks one {@code tokenizer.tokens} entry against the models. */
    private void check(String token, TokenSpec s, Map<ModelRef, HfTokenizer> toks) {
        if (s.kind() == null || s.kind().equals("zero")) {
            return;
        }
        ModelRef m = s.model();
        if (!models.containsKey(m)) {
            throw AmalgamException.recipe("the source of token '" + token + "' names " + m + ", which is not a "
                    + "model of this merge", s.where(), "name one of: " + models.keySet().stream()
                    .map(ModelRef::toString).toList());
        }
        HfTokenizer t = toks.get(m);
        switch (s.kind()) {
            case "model" -> {
                if (t.id(token) < 0) {
                    throw AmalgamException.recipe("token '" + token + "' is not in the vocabulary of " + m, s.where(),
                            "take its row from a model that has it, or use kind: model_token with a token or "
                                    + "token_id that " + m + " has");
                }
            }
            case "model_token" -> {
                long rows = vocabRows.getOrDefault(m, (long) vocabSize(m, t));
                if (s.token() != null) {
                    int id = t.id(s.token());
                    if (id < 0) {
                        throw AmalgamException.recipe("token '" + s.token() + "' is not in the vocabulary of " + m,
                                s.where(), "check the spelling (tokens are matched exactly, e.g. '</s>', "
                                        + "'\u2581word'), or give token_id");
                    }
                    if (id >= rows) {
                        throw AmalgamException.recipe(String.format(Locale.ROOT, "token '%s' of %s has id %d, "
                                + "outside its %d embedding rows", s.token(), m, id, rows), s.where(), null);
                    }
                } else if (s.tokenId() >= rows) {
                    throw AmalgamException.recipe(String.format(Locale.ROOT, "token_id %d is out of range for %s, "
                            + "which has %d embedding rows", s.tokenId(), m, rows), s.where(),
                            String.format(Locale.ROOT, "use an id from 0 to %d", rows - 1));
                }
            }
            default -> throw AmalgamException.internal("unknown token source kind " + s.kind(), null);
        }
    }

    private int[] permutation(ModelRef m, HfTokenizer t, HfTokenizer out, int v) {
        int vs = vocabSize(m, t);
        int[] p = new int[v];
        int beyond = 0;
        for (int id = 0; id < v; id++) {
            String tok = out.token(id);
            int old = tok == null ? -1 : t.id(tok);
            if (old >= vs) {
                beyond++;
                old = -1;
            }
            p[id] = old;
        }
        if (beyond > 0) {
            warnings.add(String.format(Locale.ROOT, "%s: %d token(s) of the output vocabulary have ids at or past "
                    + "its vocab_size %d and are treated as missing from it", m, beyond, vs));
        }
        return p;
    }

    private void warnUnsourced(HfTokenizer out, int v, Map<ModelRef, int[]> perms, Map<String, TokenSpec> tokens) {
        List<String> none = new ArrayList<>();
        int count = 0;
        for (int id = 0; id < v; id++) {
            String tok = out.token(id);
            TokenSpec s = tok == null ? null : tokens.get(tok);
            if (s != null && s.kind() != null) {
                continue;
            }
            boolean found = false;
            for (int[] p : perms.values()) {
                found |= p[id] >= 0;
            }
            if (!found) {
                count++;
                if (none.size() < 5) {
                    none.add(tok == null ? "#" + id : "'" + tok + "'");
                }
            }
        }
        if (count > 0) {
            warnings.add(String.format(Locale.ROOT, "%d token(s) of the output vocabulary are in no model's "
                    + "vocabulary and get all-zero embedding rows (mergekit fails here): %s", count, none));
        }
    }

    /** The model's vocabulary size from its config, else its tokenizer's size. */
    private int vocabSize(ModelRef m, HfTokenizer t) {
        Model model = models.get(m);
        if (model != null) {
            for (String key : List.of("vocab_size", "text_config.vocab_size")) {
                JsonNode n = Configs.get(model.config(), key);
                if (n != null && n.canConvertToInt() && n.asInt() > 0) {
                    return n.asInt();
                }
            }
        }
        return t.size();
    }

    private List<String> inputTemplates() {
        List<String> out = new ArrayList<>();
        for (ModelRef m : recipe.referencedModels()) {
            HfTokenizer t = load(m);
            out.add(t == null ? null : t.chatTemplate());
        }
        return out;
    }

    /** The model's tokenizer as it is on disk, or null; read once. */
    private HfTokenizer load(ModelRef m) {
        if (loaded.add(m)) {
            Model model = models.get(m);
            raw.put(m, model == null ? null : HfTokenizer.read(model.dir(), m.toString()));
        }
        return raw.get(m);
    }
}
