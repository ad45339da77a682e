package dev.amalgam.recipe;

import dev.amalgam.error.Where;

import java.util.Objects;

/**
 * One entry under a slice's {@code sources:}: layers {@code [start, end)} of a model, with the
 * per-source parameters that take precedence for that model. Part of the recipe stage; the
 * planner also builds these for the {@code models:} form ({@code [0, layer count)}).
 *
 * @param end             exclusive
 * @param where           the entry's mapping node
 * @param layerRangeWhere the {@code layer_range} node
 */
public record InputSlice(ModelRef model, int start, int end, ParameterSet parameters, Where where,
                         Where layerRangeWhere) {

    public InputSlice {
        Objects.requireNonNull(model, "model");
        parameters = parameters == null ? ParameterSet.EMPTY : parameters;
    }

    /** {@code end - start}. */
    public int layerCount() {
        return end - start;
    }
}
