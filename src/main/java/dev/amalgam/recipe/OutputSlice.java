package dev.amalgam.recipe;

import dev.amalgam.error.Where;

import java.util.List;

/**
 * One entry under {@code slices:}: input slices merged into consecutive output layers. Part of
 * the recipe stage.
 *
 * @param baseModel      overrides the recipe's {@code base_model} inside this slice, or null
 * @param residualWeight parsed for compatibility; mergekit never uses it, nor does Amalgam
 * @param where          the entry's mapping node
 */
public record OutputSlice(List<InputSlice> sources, ModelRef baseModel, Double residualWeight,
                          ParameterSet parameters, Where where) {

    public OutputSlice {
        sources = List.copyOf(sources);
        parameters = parameters == null ? ParameterSet.EMPTY : parameters;
    }
}
