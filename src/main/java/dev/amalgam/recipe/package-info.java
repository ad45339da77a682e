/**
 * The recipe stage: reads a mergekit merge configuration (YAML) into immutable records that
 * remember the line, column and key path of every node, and owns mergekit's recipe semantics:
 * the three forms ({@code models}, {@code slices}, {@code modules}), parameter coercion,
 * gradients and filters ({@link dev.amalgam.recipe.Setting}), model reference syntax
 * ({@link dev.amalgam.recipe.ModelRef}) and parameter precedence
 * ({@link dev.amalgam.recipe.ParameterResolver}). It reads no tensors and knows no
 * architecture; everything that needs the models themselves is checked by the plan stage.
 */
package dev.amalgam.recipe;
