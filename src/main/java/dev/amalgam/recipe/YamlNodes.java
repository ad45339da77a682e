package dev.amalgam.recipe;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Typed access to a SnakeYAML node tree with PyYAML's reading rules, for the recipe stage:
 * YAML 1.1 scalars, merge keys ({@code <<}), last duplicate key wins (with a warning), and
 * every value and error located by line:column and key path.
 */
final class YamlNodes {

    /** One key of a mapping after merge keys and duplicates are settled. */
    record Field(String key, Node keyNode, Node value, String path) {
    }

    /** pydantic's float-from-string: decimal or exponent notation, inf, nan. */
    private static final Pattern NUMERIC = Pattern.compile(
            "[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?|[+-]?(?i:inf|infinity|nan)");
    private static final Set<String> TRUE = Set.of("true", "yes", "on", "1", "t", "y");
    private static final Set<String> FALSE = Set.of("false", "no", "off", "0", "f", "n");

    private final String file;
    private final Set<RecipeWarning> warnings = new LinkedHashSet<>();
    private final ScalarValues scalars = new ScalarValues();

    YamlNodes(String file) {
        this.file = file;
    }

    List<RecipeWarning> warnings() {
        return List.copyOf(warnings);
    }

    Where where(Node node, String path) {
        Mark m = node == null ? null : node.getStartMark();
        return m == null ? Where.at(file, 0, 0, path) : Where.at(file, m.getLine() + 1, m.getColumn() + 1, path);
    }

    AmalgamException error(Node node, String path, String message, String hint) {
        return AmalgamException.recipe(message, where(node, path), hint);
    }

    void warn(Node node, String path, String message, String hint) {
        warnings.add(new RecipeWarning(message, where(node, path), hint));
    }

    static String child(String path, String key) {
        String k = key.isEmpty() || key.matches(".*[.\\[\\]\\s\"].*") ? "[\"" + key.replace("\"", "\\\"") + "\"]" : key;
        return path == null ? k : k.startsWith("[") ? path + k : path + "." + k;
    }

    static String index(String path, int i) {
        return (path == null ? "" : path) + "[" + i + "]";
    }

    static boolean isNull(Node node) {
        return node == null || (node instanceof ScalarNode && node.getTag().equals(Tag.NULL));
    }

    /** "a list", "the string 'abc'", "the number 5": what a node is, for messages. */
    static String describe(Node node) {
        if (isNull(node)) {
            return "null";
        }
        return switch (node) {
            case SequenceNode s -> "a list";
            case MappingNode m -> "a mapping";
            case ScalarNode s when s.getTag().equals(Tag.STR) -> "the string '" + s.getValue() + "'";
            case ScalarNode s when s.getTag().equals(Tag.INT) || s.getTag().equals(Tag.FLOAT) ->
                    "the number " + s.getValue();
            case ScalarNode s when s.getTag().equals(Tag.BOOL) -> "the boolean " + s.getValue();
            case ScalarNode s -> "'" + s.getValue() + "'";
            default -> "an unsupported YAML node";
        };
    }

    /**
     * The keys of a mapping in file order. Merge keys are expanded as PyYAML does (explicit keys
     * override merged ones; in a list of merged mappings the earlier wins); an explicit key
     * written twice keeps its last value and produces a warning.
     */
    Map<String, Field> fields(Node node, String path, String what) {
        if (!(node instanceof MappingNode mapping)) {
            throw error(node, path, what + " must be a mapping (key: value lines), not " + describe(node), null);
        }
        List<NodeTuple> merged = new ArrayList<>();
        List<NodeTuple> explicit = new ArrayList<>();
        flatten(mapping, path, merged, explicit, Collections.newSetFromMap(new IdentityHashMap<>()));
        Map<String, Field> fields = new LinkedHashMap<>();
        for (NodeTuple t : merged) {
            String key = key(t.getKeyNode(), path);
            fields.put(key, new Field(key, t.getKeyNode(), t.getValueNode(), child(path, key)));
        }
        Map<String, Node> seen = new LinkedHashMap<>();
        for (NodeTuple t : explicit) {
            String key = key(t.getKeyNode(), path);
            Node first = seen.putIfAbsent(key, t.getKeyNode());
            if (first != null) {
                Mark m = first.getStartMark();
                warn(t.getKeyNode(), child(path, key), "duplicate key '" + key + "'",
                        String.format(Locale.ROOT, "the last value wins, as in mergekit; the first is at line %d:%d",
                                m.getLine() + 1, m.getColumn() + 1));
            }
            fields.put(key, new Field(key, t.getKeyNode(), t.getValueNode(), child(path, key)));
        }
        return fields;
    }

    private void flatten(MappingNode node, String path, List<NodeTuple> merged, List<NodeTuple> explicit,
                         Set<Node> active) {
        if (!active.add(node)) {
            throw error(node, path, "a merge key ('<<') refers to the mapping that contains it", null);
        }
        for (NodeTuple t : node.getValue()) {
            if (!t.getKeyNode().getTag().equals(Tag.MERGE)) {
                explicit.add(t);
                continue;
            }
            Node value = t.getValueNode();
            List<Node> sources = switch (value) {
                case MappingNode m -> List.of(m);
                case SequenceNode s -> s.getValue();
                default -> throw error(value, child(path, "<<"),
                        "a merge key ('<<') needs a mapping or a list of mappings, not " + describe(value), null);
            };
            List<List<NodeTuple>> parts = new ArrayList<>();
            for (Node source : sources) {
                if (!(source instanceof MappingNode m)) {
                    throw error(source, child(path, "<<"),
                            "a merge key ('<<') needs a mapping or a list of mappings, not " + describe(source), null);
                }
                List<NodeTuple> part = new ArrayList<>();
                List<NodeTuple> own = new ArrayList<>();
                flatten(m, path, part, own, active);
                part.addAll(own);
                parts.add(part);
            }
            for (List<NodeTuple> part : parts.reversed()) {
                merged.addAll(part);
            }
        }
        active.remove(node);
    }

    private String key(Node keyNode, String path) {
        if (!(keyNode instanceof ScalarNode s)) {
            throw error(keyNode, path, "a key must be a plain value, not " + describe(keyNode), null);
        }
        return s.getValue();
    }

    /** Warns about every key not in {@code known}, suggesting the closest known one. */
    void warnUnknown(Map<String, Field> fields, Collection<String> known) {
        for (Field f : fields.values()) {
            if (!known.contains(f.key())) {
                String near = Suggest.closest(f.key(), known);
                warn(f.keyNode(), f.path(), "unknown key '" + f.key() + "'",
                        near != null ? "did you mean '" + near + "'?" : "mergekit ignores unknown keys; so does Amalgam");
            }
        }
    }

    /** Fields of a mapping with unknown keys warned. */
    Map<String, Field> fields(Node node, String path, String what, Collection<String> known) {
        Map<String, Field> fields = fields(node, path, what);
        warnUnknown(fields, known);
        return fields;
    }

    /** The items of a list; null for a missing or null value. */
    List<Node> list(Node node, String path, String what) {
        if (isNull(node)) {
            return null;
        }
        if (!(node instanceof SequenceNode s)) {
            throw error(node, path, what + " must be a list, not " + describe(node), null);
        }
        return s.getValue();
    }

    /** A string value; null for a missing or null value. */
    String string(Node node, String path, String what) {
        if (isNull(node)) {
            return null;
        }
        if (node instanceof ScalarNode s && s.getTag().equals(Tag.STR)) {
            return s.getValue();
        }
        throw error(node, path, what + " must be a string, not " + describe(node),
                node instanceof ScalarNode ? "put it in quotes" : null);
    }

    /**
     * A number as pydantic coerces it to float: YAML int or float, a boolean (1.0 / 0.0) or a
     * numeric string; null when the node is none of these.
     */
    Double numeric(Node node) {
        if (!(node instanceof ScalarNode s)) {
            return null;
        }
        Tag tag = s.getTag();
        if (tag.equals(Tag.INT) || tag.equals(Tag.FLOAT)) {
            return ((Number) scalarValue(s)).doubleValue();
        }
        if (tag.equals(Tag.BOOL)) {
            return (Boolean) scalarValue(s) ? 1.0 : 0.0;
        }
        if (tag.equals(Tag.STR) && NUMERIC.matcher(s.getValue().strip()).matches()) {
            String v = s.getValue().strip().toLowerCase(Locale.ROOT).replace("infinity", "inf");
            return switch (v.replaceFirst("^[+-]", "")) {
                case "inf" -> v.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
                case "nan" -> Double.NaN;
                default -> Double.parseDouble(v);
            };
        }
        return null;
    }

    /** A YAML integer that fits an int; null for a missing or null value. */
    Integer integer(Node node, String path, String what) {
        if (isNull(node)) {
            return null;
        }
        if (node instanceof ScalarNode s && s.getTag().equals(Tag.INT)) {
            Object n = scalarValue(s);
            if (n instanceof Integer i) {
                return i;
            }
            throw error(node, path, what + " is too large: " + s.getValue(), null);
        }
        throw error(node, path, what + " must be a whole number, not " + describe(node), null);
    }

    /** A boolean as pydantic accepts it (YAML booleans, 0/1, "true"/"false"...); null when missing. */
    Boolean bool(Node node, String path, String what) {
        if (isNull(node)) {
            return null;
        }
        if (node instanceof ScalarNode s) {
            if (s.getTag().equals(Tag.BOOL)) {
                return (Boolean) scalarValue(s);
            }
            String v = s.getValue().strip().toLowerCase(Locale.ROOT);
            if ((s.getTag().equals(Tag.INT) || s.getTag().equals(Tag.STR)) && (TRUE.contains(v) || FALSE.contains(v))) {
                return TRUE.contains(v);
            }
        }
        throw error(node, path, what + " must be true or false, not " + describe(node), null);
    }

    /**
     * The value of an int, float or bool scalar. Untagged scalars have these tags only when they
     * match the type's pattern; an explicit tag ({@code !!int 0.5}, {@code !!bool maybe}) can put
     * any text under them, which is an error, as in PyYAML.
     */
    private Object scalarValue(ScalarNode s) {
        Object v;
        try {
            v = scalars.value(s);
        } catch (RuntimeException e) {
            v = null;
        }
        if (v == null) {
            String tag = s.getTag().getValue().replace(Tag.PREFIX, "!!");
            throw error(s, null, "'" + s.getValue() + "' is not a valid " + tag + " value",
                    "remove the explicit " + tag + " tag or write a value of that type");
        }
        return v;
    }

    /** SnakeYAML's safe constructor, used only to build YAML 1.1 scalars (hex, octal, 1_000, .inf). */
    private static final class ScalarValues extends SafeConstructor {

        ScalarValues() {
            super(new LoaderOptions());
        }

        Object value(ScalarNode node) {
            return constructObject(node);
        }
    }
}
