package dev.amalgam.recipe;

import dev.amalgam.error.Where;

import java.util.Objects;

/**
 * One entry under {@code models:} (top level or in a module): a model and its per-model
 * parameters. Part of the recipe stage.
 *
 * @param where the entry's mapping node
 */
public record InputModel(ModelRef model, ParameterSet parameters, Where where) {

    public InputModel {
        Objects.requireNonNull(model, "model");
        parameters = parameters == null ? ParameterSet.EMPTY : parameters;
    }
}
