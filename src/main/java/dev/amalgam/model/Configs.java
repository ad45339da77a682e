package dev.amalgam.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Dotted-path access to config.json trees ({@code text_config.num_hidden_layers}). Model stage.
 */
public final class Configs {

    private Configs() {
    }

    /** The node at a dotted path, or null. */
    public static JsonNode get(JsonNode root, String path) {
        JsonNode n = root;
        for (String part : path.split("\\.")) {
            if (n == null || !n.isObject()) {
                return null;
            }
            n = n.get(part);
        }
        return n == null || n.isNull() ? null : n;
    }

    /** Sets an int at a dotted path whose parents exist; returns false when they do not. */
    public static boolean setInt(ObjectNode root, String path, int value) {
        String[] parts = path.split("\\.");
        JsonNode n = root;
        for (int i = 0; i < parts.length - 1; i++) {
            n = n.get(parts[i]);
            if (n == null || !n.isObject()) {
                return false;
            }
        }
        ((ObjectNode) n).put(parts[parts.length - 1], value);
        return true;
    }
}
