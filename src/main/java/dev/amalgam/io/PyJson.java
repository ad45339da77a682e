package dev.amalgam.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Renders JSON the way Python's {@code json.dumps(value, indent=2)} does: two-space indentation,
 * {@code ": "} between key and value, {@code {}} and {@code []} for empty containers, floats as
 * Python's {@code repr} ({@code 1e-05}, {@code 10000.0}), and optionally {@code ensure_ascii}
 * escaping. Part of the I/O stage: files that Python tools write (index files, {@code config.json})
 * come out byte for byte as they would. Values are {@link Map} (insertion order), {@link List},
 * {@link CharSequence}, {@link Number}, {@link Boolean}, {@code null} or a Jackson {@link JsonNode}.
 */
public final class PyJson {

    private PyJson() {
    }

    /** A copy of {@code node} with every object's keys sorted, as {@code sort_keys=True} writes them. */
    public static JsonNode sortedKeys(JsonNode node) {
        if (node.isObject()) {
            ObjectNode out = JsonNodeFactory.instance.objectNode();
            java.util.TreeMap<String, JsonNode> m = new java.util.TreeMap<>();
            node.properties().forEach(e -> m.put(e.getKey(), e.getValue()));
            m.forEach((k, v) -> out.set(k, sortedKeys(v)));
            return out;
        }
        if (node.isArray()) {
            ArrayNode arr = JsonNodeFactory.instance.arrayNode();
            node.forEach(v -> arr.add(sortedKeys(v)));
            return arr;
        }
        return node;
    }

    /** {@code json.dumps(value, indent=2, ensure_ascii=ensureAscii)}, without a trailing newline. */
    public static String dumps(Object value, boolean ensureAscii) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, 0, ensureAscii);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v, int depth, boolean ascii) {
        switch (v) {
            case null -> sb.append("null");
            case JsonNode n -> writeNode(sb, n, depth, ascii);
            case CharSequence s -> string(sb, s.toString(), ascii);
            case Boolean b -> sb.append(b ? "true" : "false");
            case Double d -> sb.append(pyFloat(d));
            case Float f -> sb.append(pyFloat(f.doubleValue()));
            case BigDecimal d -> sb.append(pyFloat(d.doubleValue()));
            case Number n -> sb.append(n instanceof BigInteger ? n.toString() : Long.toString(n.longValue()));
            case Map<?, ?> m -> {
                if (m.isEmpty()) {
                    sb.append("{}");
                    return;
                }
                sb.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    sb.append(first ? "\n" : ",\n");
                    first = false;
                    indent(sb, depth + 1);
                    string(sb, String.valueOf(e.getKey()), ascii);
                    sb.append(": ");
                    write(sb, e.getValue(), depth + 1, ascii);
                }
                sb.append('\n');
                indent(sb, depth);
                sb.append('}');
            }
            case List<?> l -> {
                if (l.isEmpty()) {
                    sb.append("[]");
                    return;
                }
                sb.append('[');
                boolean first = true;
                for (Object o : l) {
                    sb.append(first ? "\n" : ",\n");
                    first = false;
                    indent(sb, depth + 1);
                    write(sb, o, depth + 1, ascii);
                }
                sb.append('\n');
                indent(sb, depth);
                sb.append(']');
            }
            default -> throw new IllegalArgumentException("cannot render " + v.getClass().getName() + " as JSON");
        }
    }

    private static void writeNode(StringBuilder sb, JsonNode n, int depth, boolean ascii) {
        if (n.isObject()) {
            if (n.isEmpty()) {
                sb.append("{}");
                return;
            }
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, JsonNode> e : n.properties()) {
                sb.append(first ? "\n" : ",\n");
                first = false;
                indent(sb, depth + 1);
                string(sb, e.getKey(), ascii);
                sb.append(": ");
                writeNode(sb, e.getValue(), depth + 1, ascii);
            }
            sb.append('\n');
            indent(sb, depth);
            sb.append('}');
        } else if (n.isArray()) {
            if (n.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            boolean first = true;
            for (Iterator<JsonNode> it = n.elements(); it.hasNext(); ) {
                sb.append(first ? "\n" : ",\n");
                first = false;
                indent(sb, depth + 1);
                writeNode(sb, it.next(), depth + 1, ascii);
            }
            sb.append('\n');
            indent(sb, depth);
            sb.append(']');
        } else if (n.isTextual()) {
            string(sb, n.textValue(), ascii);
        } else if (n.isIntegralNumber()) {
            sb.append(n.bigIntegerValue());
        } else if (n.isNumber()) {
            sb.append(pyFloat(n.doubleValue()));
        } else if (n.isBoolean()) {
            sb.append(n.booleanValue() ? "true" : "false");
        } else {
            sb.append("null");
        }
    }

    private static void indent(StringBuilder sb, int depth) {
        sb.append("  ".repeat(depth));
    }

    private static void string(StringBuilder sb, String s, boolean ascii) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || (ascii && c > 0x7E)) {
                        sb.append("\\u").append(String.format(Locale.ROOT, "%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }

    /** Python's {@code repr(float)}: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
    public static String pyFloat(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        if (d == 0) {
            return (Double.doubleToRawLongBits(d) < 0) ? "-0.0" : "0.0";
        }
        BigDecimal bd = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        String digits = bd.unscaledValue().abs().toString();
        int exp = digits.length() - 1 - bd.scale();
        StringBuilder sb = new StringBuilder();
        if (d < 0) {
            sb.append('-');
        }
        if (exp < -4 || exp >= 16) {
            sb.append(digits.charAt(0));
            if (digits.length() > 1) {
                sb.append('.').append(digits, 1, digits.length());
            }
            sb.append('e').append(exp < 0 ? '-' : '+');
            int a = Math.abs(exp);
            if (a < 10) {
                sb.append('0');
            }
            sb.append(a);
        } else if (exp < 0) {
            sb.append("0.").append("0".repeat(-exp - 1)).append(digits);
        } else if (digits.length() <= exp + 1) {
            sb.append(digits).append("0".repeat(exp + 1 - digits.length())).append(".0");
        } else {
            sb.append(digits, 0, exp + 1).append('.').append(digits, exp + 1, digits.length());
        }
        return sb.toString();
    }
}
