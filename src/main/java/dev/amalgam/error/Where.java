package dev.amalgam.error;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Where a fault sits: whichever of file, line:column, recipe key path, tensor name and byte
 * offset apply. Part of the error stage; every {@link AmalgamException} carries one.
 *
 * @param file    file path as the user gave it, or null
 * @param line    1-based line, or 0 when unknown
 * @param column  1-based column, or 0 when unknown
 * @param keyPath recipe key path such as {@code slices[0].sources[1].layer_range}, or null
 * @param tensor  tensor name, or null
 * @param offset  byte offset in the file, or -1 when unknown
 */
public record Where(String file, int line, int column, String keyPath, String tensor, long offset) {

    /** Nowhere in particular. */
    public static final Where NONE = new Where(null, 0, 0, null, null, -1);

    public static Where file(Object file) {
        return new Where(String.valueOf(file), 0, 0, null, null, -1);
    }

    public static Where at(Object file, int line, int column, String keyPath) {
        return new Where(file == null ? null : String.valueOf(file), line, column, keyPath, null, -1);
    }

    public static Where tensor(Object file, String tensor) {
        return new Where(file == null ? null : String.valueOf(file), 0, 0, null, tensor, -1);
    }

    public static Where offset(Object file, String tensor, long offset) {
        return new Where(file == null ? null : String.valueOf(file), 0, 0, null, tensor, offset);
    }

    public Where withTensor(String name) {
        return new Where(file, line, column, keyPath, name, offset);
    }

    public Where withKeyPath(String path) {
        return new Where(file, line, column, path, tensor, offset);
    }

    public boolean isEmpty() {
        return file == null && line <= 0 && keyPath == null && tensor == null && offset < 0;
    }

    /** {@code recipe.yml:7:15 (merge_method)}, {@code model.safetensors, tensor x, byte 1024}. */
    @Override
    public String toString() {
        List<String> parts = new ArrayList<>();
        StringBuilder head = new StringBuilder();
        if (file != null) {
            head.append(file);
        }
        if (line > 0) {
            head.append(head.isEmpty() ? "line " : ":").append(line);
            if (column > 0) {
                head.append(':').append(column);
            }
        }
        if (keyPath != null) {
            head.append(head.isEmpty() ? "" : " ").append('(').append(keyPath).append(')');
        }
        if (!head.isEmpty()) {
            parts.add(head.toString());
        }
        if (tensor != null) {
            parts.add("tensor " + tensor);
        }
        if (offset >= 0) {
            parts.add(String.format(Locale.ROOT, "byte %d", offset));
        }
        return String.join(", ", parts);
    }
}
