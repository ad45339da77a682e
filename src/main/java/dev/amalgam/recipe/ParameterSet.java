package dev.amalgam.recipe;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code parameters:} map at one level of a recipe (global, module, slice, source or model
 * entry), name to setting in file order. Part of the recipe stage.
 */
public record ParameterSet(Map<String, Setting> settings) {

    /** No parameters at this level. */
    public static final ParameterSet EMPTY = new ParameterSet(Map.of());

    public ParameterSet {
        settings = settings == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(settings));
    }

    /** The setting written for {@code name}, or null. */
    public Setting get(String name) {
        return settings.get(name);
    }

    public boolean has(String name) {
        return settings.containsKey(name);
    }

    public boolean isEmpty() {
        return settings.isEmpty();
    }
}
