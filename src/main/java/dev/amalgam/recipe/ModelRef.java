package dev.amalgam.recipe;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.util.Objects;

/**
 * A model reference as a recipe writes it: {@code path[@revision][+lora_path[@lora_revision]]},
 * plus an optional architecture override from the map form. Part of the recipe stage; the model
 * stage resolves it to a directory. Equality uses every field, so references work as map keys.
 *
 * @param path                 local directory or Hugging Face repo id
 * @param revision             revision of {@code path}, or null
 * @param loraPath             LoRA adapter to apply on top, or null
 * @param loraRevision         revision of the adapter, or null
 * @param overrideArchitecture replaces {@code config.architectures}, or null
 */
public record ModelRef(String path, String revision, String loraPath, String loraRevision,
                       String overrideArchitecture) {

    static final String GRAMMAR = "a model reference is path[@revision][+lora_path[@lora_revision]];"
            + " paths cannot contain '+' or '@'";

    public ModelRef {
        if (path == null || path.isEmpty()) {
            throw AmalgamException.internal("a model reference needs a path", null);
        }
        if (loraRevision != null && loraPath == null) {
            throw AmalgamException.internal("a LoRA revision without a LoRA path", null);
        }
    }

    /** A plain model without revision, LoRA or override. */
    public static ModelRef of(String path) {
        return new ModelRef(path, null, null, null, null);
    }

    /** Parses the string form; errors are {@code RECIPE} without a location. */
    public static ModelRef parse(String s) {
        return parse(s, Where.NONE);
    }

    /** Parses the string form; errors are {@code RECIPE} at {@code where}. */
    public static ModelRef parse(String s, Where where) {
        Objects.requireNonNull(s, "s");
        String[] parts = s.split("\\+", -1);
        if (parts.length > 2) {
            throw AmalgamException.recipe("can't parse model reference '" + s + "': more than one '+'", where, GRAMMAR);
        }
        String[] model = parsePath(parts[0], s, where);
        String[] lora = parts.length == 2 ? parsePath(parts[1], s, where) : new String[2];
        return new ModelRef(model[0], model[1], lora[0], lora[1], null);
    }

    /** Splits {@code path[@revision]}; {@code whole} is the full reference, for messages. */
    static String[] parsePath(String part, String whole, Where where) {
        String[] pieces = part.split("@", -1);
        if (pieces.length > 2) {
            throw AmalgamException.recipe("invalid model path - multiple '@': '" + whole + "'", where, GRAMMAR);
        }
        if (pieces[0].isEmpty() || (pieces.length == 2 && pieces[1].isEmpty())) {
            throw AmalgamException.recipe("invalid model reference '" + whole + "': empty path or revision", where, GRAMMAR);
        }
        return new String[] {pieces[0], pieces.length == 2 ? pieces[1] : null};
    }

    public boolean hasLora() {
        return loraPath != null;
    }

    /** {@code path[@rev][+lora[@rev]]}; {@link #parse} reads it back (the override is not part of it). */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(path);
        if (revision != null) {
            sb.append('@').append(revision);
        }
        if (loraPath != null) {
            sb.append('+').append(loraPath);
            if (loraRevision != null) {
                sb.append('@').append(loraRevision);
            }
        }
        return sb.toString();
    }
}
