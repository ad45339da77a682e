package dev.amalgam.plan;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * What {@link RecipeCheck} made of a recipe file: which of mergekit's tools it is for, the names
 * of its merges, and every problem found, in file order. Part of the plan stage.
 *
 * @param file     the file as the user named it, or null
 * @param kind     which tool reads the file
 * @param merges   for {@link Kind#MULTI}, each document's name in file order ({@code null} for the
 *                 final, unnamed merge); empty otherwise
 * @param problems errors and warnings sorted by location
 */
public record CheckResult(String file, Kind kind, List<String> merges, List<Problem> problems) {

    /** The tool a recipe file is written for. */
    public enum Kind {
        /** One merge ({@code mergekit-yaml}). */
        RECIPE("mergekit recipe"),
        /** Several merges, one per YAML document ({@code mergekit-multi}). */
        MULTI("mergekit-multi recipe"),
        /** A mixture-of-experts build ({@code mergekit-moe}). */
        MOE("mergekit-moe recipe");

        private final String description;

        Kind(String description) {
            this.description = description;
        }

        public String description() {
            return description;
        }
    }

    public CheckResult {
        merges = merges == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(merges));
        problems = problems.stream().sorted(Problem.BY_LOCATION).toList();
    }

    /** True when nothing would stop mergekit (warnings allowed). */
    public boolean valid() {
        return errors().isEmpty();
    }

    public List<Problem> errors() {
        return problems.stream().filter(Problem::isError).toList();
    }

    public List<Problem> warnings() {
        return problems.stream().filter(p -> !p.isError()).toList();
    }

    /** {@code r.yml: valid mergekit recipe (1 warning)} or {@code r.yml: invalid ...: 2 errors, 1 warning}. */
    public String summary() {
        int e = errors().size();
        int w = warnings().size();
        String what = kind.description() + (kind == Kind.MULTI
                ? String.format(Locale.ROOT, " with %d merges", merges.size()) : "");
        String name = file == null ? "" : file + ": ";
        return e == 0
                ? String.format(Locale.ROOT, "%svalid %s%s", name, what, w == 0 ? "" : " (" + count(w, "warning") + ")")
                : String.format(Locale.ROOT, "%sinvalid %s: %s%s", name, what, count(e, "error"),
                w == 0 ? "" : ", " + count(w, "warning"));
    }

    private static String count(int n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }
}
