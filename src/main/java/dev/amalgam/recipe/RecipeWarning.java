package dev.amalgam.recipe;

import dev.amalgam.error.Where;

import java.util.Objects;

/**
 * Something in a recipe that mergekit accepts silently but that is probably a mistake (an
 * unknown key, a duplicate key). Part of the recipe stage; the CLI prints these before merging.
 *
 * @param message what was found, e.g. {@code unknown key 'paramters'}
 * @param where   where it was written
 * @param hint    what to do about it, or null
 */
public record RecipeWarning(String message, Where where, String hint) {

    public RecipeWarning {
        Objects.requireNonNull(message, "message");
        where = where == null ? Where.NONE : where;
    }

    /** {@code warning: <message>}, the location and the hint, laid out like an error. */
    public String render() {
        StringBuilder sb = new StringBuilder("warning: ").append(message);
        if (!where.isEmpty()) {
            sb.append("\n  at ").append(where);
        }
        if (hint != null && !hint.isBlank()) {
            sb.append("\n  hint: ").append(hint);
        }
        return sb.toString();
    }
}
