package dev.amalgam.plan;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.recipe.RecipeWarning;

import java.util.Comparator;
import java.util.Objects;

/**
 * One thing {@link RecipeCheck} found in a recipe: an error (mergekit would refuse the recipe) or a
 * warning (mergekit accepts it, but it is probably a mistake), with where it was written and what
 * to do about it. Part of the plan stage.
 *
 * @param where file, line:column and key path; {@link Where#NONE} when nowhere in particular
 * @param hint  what to do about it, or null
 */
public record Problem(Severity severity, String message, Where where, String hint) {

    /** Whether the recipe can run as written. */
    public enum Severity {
        ERROR, WARNING
    }

    /** File order: by line, then column; problems without a line first. */
    public static final Comparator<Problem> BY_LOCATION = Comparator.comparingInt((Problem p) -> p.where().line())
            .thenComparingInt(p -> p.where().column());

    public Problem {
        Objects.requireNonNull(severity, "severity");
        Objects.requireNonNull(message, "message");
        where = where == null ? Where.NONE : where;
    }

    public static Problem error(String message, Where where, String hint) {
        return new Problem(Severity.ERROR, message, where, hint);
    }

    public static Problem warning(String message, Where where, String hint) {
        return new Problem(Severity.WARNING, message, where, hint);
    }

    /** The error an exception reports. */
    public static Problem of(AmalgamException e) {
        return error(e.getMessage(), e.where(), e.hint());
    }

    /** The warning the parser recorded. */
    public static Problem of(RecipeWarning w) {
        return warning(w.message(), w.where(), w.hint());
    }

    public boolean isError() {
        return severity == Severity.ERROR;
    }

    /**
     * The user-facing text, laid out like {@link AmalgamException#render()}:
     * <pre>
     * error: unknown merge method 'dare-ties'
     *   at recipe.yml:7:15 (merge_method)
     *   hint: did you mean 'dare_ties'?
     * </pre>
     */
    public String render() {
        StringBuilder sb = new StringBuilder(isError() ? "error: " : "warning: ").append(message);
        if (!where.isEmpty()) {
            sb.append("\n  at ").append(where);
        }
        if (hint != null && !hint.isBlank()) {
            sb.append("\n  hint: ").append(hint);
        }
        return sb.toString();
    }
}
