package dev.amalgam.recipe;

import dev.amalgam.error.Where;

import java.util.List;

/**
 * One value under {@code modules:} (multi-module architectures): either slices or models, never
 * both, plus module-level parameters. Part of the recipe stage.
 *
 * @param slices null when the module uses {@code models}
 * @param models null when the module uses {@code slices}
 */
public record OutputModule(List<OutputSlice> slices, List<InputModel> models, ParameterSet parameters,
                           Where where) {

    public OutputModule {
        slices = slices == null ? null : List.copyOf(slices);
        models = models == null ? null : List.copyOf(models);
        parameters = parameters == null ? ParameterSet.EMPTY : parameters;
    }
}
