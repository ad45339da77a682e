package dev.amalgam.method;

/**
 * One parameter a merge method declares: its recipe name, whether it must be given, and the
 * default used otherwise. Part of the method stage; the planner resolves every declared name
 * for every output tensor (and, for per-model parameters, for every input model).
 *
 * @param name         the key under {@code parameters:}
 * @param required     true when a missing value is an error (never for the base model)
 * @param defaultValue the value when not given and not required; null means "unset"
 */
public record ParamSpec(String name, boolean required, Double defaultValue) {

    public static ParamSpec required(String name) {
        return new ParamSpec(name, true, null);
    }

    public static ParamSpec optional(String name, Double defaultValue) {
        return new ParamSpec(name, false, defaultValue);
    }

    public static ParamSpec flag(String name, boolean defaultValue) {
        return new ParamSpec(name, false, defaultValue ? 1.0 : 0.0);
    }
}
