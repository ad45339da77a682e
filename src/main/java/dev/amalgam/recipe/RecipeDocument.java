package dev.amalgam.recipe;

/**
 * One document of a mergekit-multi file: the optional {@code name:} under which later documents
 * refer to its output, and the recipe. Part of the recipe stage.
 *
 * @param name the document's top-level {@code name}, or null (the final merge has none)
 */
public record RecipeDocument(String name, Recipe recipe) {
}
