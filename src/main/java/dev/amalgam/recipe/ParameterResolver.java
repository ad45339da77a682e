package dev.amalgam.recipe;

import dev.amalgam.error.Where;

import java.util.ArrayList;
import java.util.List;

/**
 * Parameter lookup with mergekit's precedence, part of the recipe stage (the planner calls it
 * once per output tensor and parameter). Levels, most specific first:
 * <ol>
 *   <li>source: the parameters of the <em>first</em> source in the slice whose model equals the
 *       model being resolved (per-model parameters only; global parameters skip this level);</li>
 *   <li>output slice;</li>
 *   <li>module;</li>
 *   <li>recipe (top-level {@code parameters:}).</li>
 * </ol>
 * A level counts only if it names the parameter, and a setting that evaluates to null (no
 * conditional matched) falls through to the next level. Global parameters are matched against
 * the output tensor name, per-model parameters against that model's input tensor name.
 */
public final class ParameterResolver {

    private ParameterResolver() {
    }

    /** A global parameter (slice, module, recipe), or null when no level resolves it. */
    public static Double global(String name, OutputSlice slice, OutputModule module, Recipe recipe,
                                String outputTensorName, double t) {
        return resolve(levels(null, slice, module, recipe), name, outputTensorName, t);
    }

    /** A per-model parameter (source, slice, module, recipe), or null when no level resolves it. */
    public static Double perModel(String name, ModelRef model, OutputSlice slice, OutputModule module,
                                  Recipe recipe, String inputTensorName, double t) {
        return resolve(levels(model, slice, module, recipe), name, inputTensorName, t);
    }

    /**
     * Where the most specific setting of {@code name} was written ({@code model} null for a global
     * parameter), for error messages; null when no level names it. A conditional list is reported
     * even if, for some tensor, none of its filters matches and a lower level wins.
     */
    public static Where whereOf(String name, ModelRef model, OutputSlice slice, OutputModule module, Recipe recipe) {
        for (ParameterSet level : levels(model, slice, module, recipe)) {
            if (level.has(name)) {
                return level.get(name).where();
            }
        }
        return null;
    }

    private static Double resolve(List<ParameterSet> levels, String name, String tensorName, double t) {
        for (ParameterSet level : levels) {
            Setting setting = level.get(name);
            if (setting != null) {
                Double value = setting.evaluate(tensorName, t);
                if (value != null) {
                    return value;
                }
            }
        }
        return null;
    }

    private static List<ParameterSet> levels(ModelRef model, OutputSlice slice, OutputModule module,
                                             Recipe recipe) {
        List<ParameterSet> levels = new ArrayList<>(4);
        if (slice != null) {
            if (model != null) {
                for (InputSlice source : slice.sources()) {
                    if (source.model().equals(model)) {
                        levels.add(source.parameters());
                        break;
                    }
                }
            }
            levels.add(slice.parameters());
        }
        if (module != null) {
            levels.add(module.parameters());
        }
        if (recipe != null) {
            levels.add(recipe.parameters());
        }
        return levels;
    }
}
