package dev.amalgam.plan;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.recipe.InputModel;
import dev.amalgam.recipe.ModelRef;
import dev.amalgam.recipe.MoeRecipe;
import dev.amalgam.recipe.OutputModule;
import dev.amalgam.recipe.OutputSlice;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.recipe.RecipeDocument;
import dev.amalgam.recipe.RecipeDocuments;
import dev.amalgam.recipe.RecipeDocuments.Document;
import dev.amalgam.recipe.Suggest;
import dev.amalgam.recipe.TokenSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Validates a recipe file on its own, with no model present: everything mergekit would reject
 * before loading a model, and what else the recipe alone decides. Plan stage; the library side of
 * {@code amalgam check}. Every problem is collected (each parse error as one located problem)
 * instead of stopping at the first.
 *
 * <p>A file of one document is a merge recipe ({@code mergekit-yaml}) or, when it has
 * {@code experts:} or {@code gate_mode:} and no {@code merge_method}, a {@code mergekit-moe}
 * recipe. A file of several documents is a {@code mergekit-multi} recipe: each document is checked
 * as a merge recipe, names must be unique, at most one document may go without a name, and the
 * merges that use each other's output by name must not form a cycle.
 */
public final class RecipeCheck {

    /** The keys of mergekit's MergeConfiguration, plus mergekit-multi's {@code name}. */
    private static final List<String> TOP = List.of("merge_method", "models", "slices", "modules", "base_model",
            "parameters", "dtype", "out_dtype", "tokenizer_source", "tokenizer", "chat_template", "name");

    private final String fileName;
    private final List<Problem> problems = new ArrayList<>();

    private RecipeCheck(String fileName) {
        this.fileName = fileName;
    }

    /** Checks a file; only unreadable files throw ({@code IO}), everything else is a problem in the result. */
    public static CheckResult check(Path file) {
        return check(RecipeDocuments.read(file), file.toString());
    }

    /** Checks recipe text; {@code fileName} (may be null) is used in locations. */
    public static CheckResult check(String text, String fileName) {
        return new RecipeCheck(fileName).run(text);
    }

    private CheckResult run(String text) {
        List<Document> docs = RecipeDocuments.split(text, fileName);
        if (docs.isEmpty()) {
            problems.add(Problem.error("the recipe is empty", Where.at(fileName, 1, 1, null),
                    "a recipe needs at least 'merge_method' and one of 'models', 'slices' or 'modules'"));
            return new CheckResult(fileName, CheckResult.Kind.RECIPE, List.of(), problems);
        }
        if (docs.size() == 1) {
            Document d = docs.getFirst();
            if (d.kind() == RecipeDocuments.Kind.MOE) {
                moe(d);
                return new CheckResult(fileName, CheckResult.Kind.MOE, List.of(), problems);
            }
            if (d.kind() == RecipeDocuments.Kind.EMPTY) {
                problems.add(Problem.error("the recipe is empty", where(d), "a recipe needs at least 'merge_method'"
                        + " and one of 'models', 'slices' or 'modules'"));
            } else {
                merge(d);
            }
            return new CheckResult(fileName, CheckResult.Kind.RECIPE, List.of(), problems);
        }
        return multi(docs);
    }

    private Where where(Document d) {
        return Where.at(fileName, d.line(), 1, null);
    }

    private void moe(Document d) {
        try {
            MoeCheck.run(MoeRecipe.parse(d.text(), fileName), problems);
        } catch (AmalgamException e) {
            problems.add(Problem.of(e));
        }
    }

    /** Parses and checks one merge document; null when it does not parse. */
    private RecipeDocument merge(Document d) {
        try {
            RecipeDocument rd = Recipe.parseAll(d.text(), fileName).getFirst();
            MergeRecipeCheck.run(rd.recipe(), problems);
            return rd;
        } catch (AmalgamException e) {
            problems.add(Problem.of(e));
            for (Map.Entry<String, Where> k : d.keys().entrySet()) {
                if (!TOP.contains(k.getKey())) {
                    String near = Suggest.closest(k.getKey(), TOP);
                    problems.add(Problem.warning("unknown key '" + k.getKey() + "'", k.getValue(),
                            MoeRecipe.KEYS.contains(k.getKey()) ? "'" + k.getKey() + "' belongs to mergekit-moe"
                                    + " recipes, which have no merge_method; remove merge_method to check it as one"
                                    : near != null ? "did you mean '" + near + "'?"
                                    : "mergekit ignores unknown keys; so does Amalgam"));
                }
            }
            return null;
        }
    }

    private CheckResult multi(List<Document> docs) {
        Map<String, Document> named = new LinkedHashMap<>();
        Map<String, Recipe> recipes = new LinkedHashMap<>();
        List<String> names = new ArrayList<>();
        Document unnamed = null;
        for (Document d : docs) {
            RecipeDocument rd = null;
            switch (d.kind()) {
                case EMPTY -> problems.add(Problem.error("document " + d.number() + " is empty", where(d),
                        "remove the extra '---'; mergekit-multi stops on an empty document"));
                case MOE -> problems.add(Problem.error("document " + d.number() + " is a mergekit-moe recipe",
                        where(d), "mergekit-multi runs merge recipes only; run a MoE recipe alone with mergekit-moe"));
                case MERGE -> rd = merge(d);
            }
            if (d.kind() != RecipeDocuments.Kind.MERGE) {
                continue;
            }
            String name = rd != null ? rd.name() : d.name();
            names.add(name);
            if (rd == null && d.keys().isEmpty()) {
                continue;
            }
            if (name == null) {
                if (unnamed != null) {
                    problems.add(Problem.error("document " + d.number() + " has no name, and neither has document "
                                    + unnamed.number(), where(d), "mergekit-multi writes the one merge without a"
                                    + " 'name:' to --out-path; give every other merge a name"));
                } else {
                    unnamed = d;
                }
            } else if (named.containsKey(name)) {
                problems.add(Problem.error("duplicate merge name '" + name + "'", d.nameWhere() != null
                                ? d.nameWhere() : where(d),
                        String.format(Locale.ROOT, "document %d (line %d) has this name already; names must be unique",
                                named.get(name).number(), named.get(name).line())));
            } else {
                named.put(name, d);
                if (rd != null) {
                    recipes.put(name, rd.recipe());
                }
            }
            if (name == null && rd != null) {
                recipes.putIfAbsent("", rd.recipe());
            }
        }
        Map<String, Map<String, Where>> uses = uses(recipes, named.keySet());
        cycles(uses);
        if (unnamed != null) {
            Set<String> used = new HashSet<>();
            uses.values().forEach(m -> used.addAll(m.keySet()));
            for (Map.Entry<String, Document> e : named.entrySet()) {
                if (!used.contains(e.getKey())) {
                    problems.add(Problem.warning("merge '" + e.getKey() + "' is not used by any other merge",
                            e.getValue().nameWhere(), "mergekit-multi still runs it and leaves the result in the"
                                    + " intermediate directory; refer to it by name as a model, or remove it"));
                }
            }
        }
        return new CheckResult(fileName, CheckResult.Kind.MULTI, names, problems);
    }

    /** For each merge (the unnamed one as ""), the merges it reads by name and where. */
    private Map<String, Map<String, Where>> uses(Map<String, Recipe> recipes, Set<String> names) {
        Map<String, Map<String, Where>> uses = new LinkedHashMap<>();
        for (Map.Entry<String, Recipe> e : recipes.entrySet()) {
            Map<String, Where> used = new LinkedHashMap<>();
            for (Map.Entry<ModelRef, Where> ref : references(e.getValue()).entrySet()) {
                String path = ref.getKey().path();
                if (path.equals(e.getKey())) {
                    problems.add(Problem.error("merge '" + path + "' uses its own output", ref.getValue(),
                            "a merge can only read merges of other documents"));
                } else if (names.contains(path)) {
                    used.putIfAbsent(path, ref.getValue());
                } else if (!path.contains("/") && !path.contains("\\")) {
                    String near = nearName(path, names);
                    if (near != null) {
                        problems.add(Problem.warning("model '" + path + "' is not the name of a merge in this file",
                                ref.getValue(), "did you mean '" + near + "'? mergekit-multi uses a merge's output"
                                        + " only where a model is named exactly like the merge"));
                    }
                }
            }
            uses.put(e.getKey(), used);
        }
        return uses;
    }

    /** A merge name the path was probably meant to be: equal but for case and separators, or close and long. */
    private static String nearName(String path, Set<String> names) {
        for (String n : names) {
            if (squash(n).equals(squash(path))) {
                return n;
            }
        }
        return path.length() >= 6 ? Suggest.closest(path, names) : null;
    }

    private static String squash(String s) {
        return s.toLowerCase(Locale.ROOT).replaceAll("[-_. ]", "");
    }

    private void cycles(Map<String, Map<String, Where>> uses) {
        Set<String> done = new HashSet<>();
        Set<Set<String>> reported = new HashSet<>();
        for (String start : uses.keySet()) {
            visit(start, new ArrayList<>(), uses, done, reported);
        }
    }

    private void visit(String node, List<String> path, Map<String, Map<String, Where>> uses, Set<String> done,
                       Set<Set<String>> reported) {
        if (done.contains(node)) {
            return;
        }
        path.add(node);
        for (Map.Entry<String, Where> edge : uses.getOrDefault(node, Map.of()).entrySet()) {
            int at = path.indexOf(edge.getKey());
            if (at >= 0) {
                List<String> cycle = new ArrayList<>(path.subList(at, path.size()));
                if (reported.add(new TreeSet<>(cycle))) {
                    cycle.add(edge.getKey());
                    problems.add(Problem.error("merges use each other's output in a cycle: "
                                    + String.join(" -> ", cycle), edge.getValue(),
                            "mergekit-multi stops with \"Circular dependency detected\"; one merge must come first"));
                }
            } else {
                visit(edge.getKey(), path, uses, done, reported);
            }
        }
        path.removeLast();
        done.add(node);
    }

    /** Every model a recipe names (merged models, tokenizer sources) and where it is first written. */
    static Map<ModelRef, Where> references(Recipe r) {
        Map<ModelRef, Where> refs = new LinkedHashMap<>();
        if (r.baseModel() != null) {
            refs.put(r.baseModel(), r.baseModelWhere());
        }
        addModels(refs, r.models());
        addSlices(refs, r.slices());
        if (r.modules() != null) {
            for (OutputModule m : r.modules().values()) {
                addModels(refs, m.models());
                addSlices(refs, m.slices());
            }
        }
        if (r.tokenizer() != null) {
            if (r.tokenizer().sourceModel() != null) {
                refs.putIfAbsent(r.tokenizer().sourceModel(), r.tokenizer().where());
            }
            for (TokenSpec t : r.tokenizer().tokens().values()) {
                if (t.model() != null) {
                    refs.putIfAbsent(t.model(), t.where());
                }
            }
        }
        return refs;
    }

    private static void addModels(Map<ModelRef, Where> refs, List<InputModel> models) {
        if (models != null) {
            models.forEach(m -> refs.putIfAbsent(m.model(), m.where()));
        }
    }

    private static void addSlices(Map<ModelRef, Where> refs, List<OutputSlice> slices) {
        if (slices != null) {
            for (OutputSlice s : slices) {
                if (s.baseModel() != null) {
                    refs.putIfAbsent(s.baseModel(), s.where());
                }
                s.sources().forEach(src -> refs.putIfAbsent(src.model(), src.where()));
            }
        }
    }
}
