package dev.amalgam.recipe;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.Tag;

import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A recipe file cut into its YAML documents, each isolated so that an error in one does not hide
 * the others, and classified the way mergekit's tools would read it: a merge recipe
 * ({@code mergekit-yaml}, or one step of {@code mergekit-multi}), a {@code mergekit-moe} recipe
 * (it has {@code experts:} or {@code gate_mode:} and no {@code merge_method}), or an empty
 * document. Part of the recipe stage; {@code amalgam check} starts here.
 *
 * <p>Documents are cut at {@code ---} and {@code ...} lines, which YAML reserves at column 1
 * even inside block scalars. Each document's text keeps the whole file's line numbers (the lines
 * of other documents become empty), so every location reported while parsing it is a location
 * in the file.
 */
public final class RecipeDocuments {

    /** What a document holds. */
    public enum Kind {
        /** A merge recipe (also what a document that is not valid YAML is taken for). */
        MERGE,
        /** A mergekit-moe recipe. */
        MOE,
        /** An explicit document with nothing in it. */
        EMPTY
    }

    /**
     * One document of the file.
     *
     * @param number    1-based position in the file
     * @param line      the document's first line ({@code ---} or its first content line)
     * @param text      the file's text with every line outside this document emptied
     * @param kind      what it holds
     * @param name      its top-level {@code name} (mergekit-multi), or null
     * @param nameWhere where the name's value is written, or null
     * @param keys      its top-level keys and where each is written, in file order; empty when the
     *                  document is not a YAML mapping
     */
    public record Document(int number, int line, String text, Kind kind, String name, Where nameWhere,
                           Map<String, Where> keys) {

        public Document {
            keys = Collections.unmodifiableMap(new LinkedHashMap<>(keys));
        }
    }

    private static final Pattern START = Pattern.compile("---(?:[ \\t].*)?");
    private static final Pattern END = Pattern.compile("\\.\\.\\.(?:[ \\t].*)?");

    private RecipeDocuments() {
    }

    /** Reads a UTF-8 file as {@link Recipe#parse(Path)} does; errors name the file. */
    public static String read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw AmalgamException.io("recipe file not found", Where.file(file), "check the path", e);
        } catch (IOException e) {
            throw AmalgamException.io("cannot read the recipe: " + e.getMessage(), Where.file(file), null, e);
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw AmalgamException.recipe("the recipe is not valid UTF-8", Where.file(file), "save it as UTF-8");
        }
    }

    /** The documents of {@code text} in file order; {@code fileName} (may be null) names locations. */
    public static List<Document> split(String text, String fileName) {
        String[] lines = text.split("\n", -1);
        List<int[]> ranges = new ArrayList<>();
        List<Boolean> explicit = new ArrayList<>();
        int start = 0;
        boolean startExplicit = false;
        for (int i = 0; i < lines.length; i++) {
            String line = stripCr(lines[i]);
            boolean open = START.matcher(line).matches();
            if (open || END.matcher(line).matches()) {
                ranges.add(new int[] {start, i});
                explicit.add(startExplicit);
                start = open ? i : i + 1;
                startExplicit = open;
            }
        }
        ranges.add(new int[] {start, lines.length});
        explicit.add(startExplicit);
        List<Document> docs = new ArrayList<>();
        for (int r = 0; r < ranges.size(); r++) {
            int from = ranges.get(r)[0];
            int to = ranges.get(r)[1];
            boolean content = hasContent(lines, from, to);
            if (!content && !explicit.get(r)) {
                continue;
            }
            StringBuilder sb = new StringBuilder("\n".repeat(from));
            for (int i = from; i < to; i++) {
                sb.append(lines[i]);
                if (i + 1 < lines.length) {
                    sb.append('\n');
                }
            }
            int first = from;
            while (!explicit.get(r) && first < to && !isContent(lines[first])) {
                first++;
            }
            docs.add(classify(docs.size() + 1, first + 1, sb.toString(), content, fileName));
        }
        return List.copyOf(docs);
    }

    private static String stripCr(String line) {
        return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
    }

    private static boolean hasContent(String[] lines, int from, int to) {
        for (int i = from; i < to; i++) {
            String line = stripCr(lines[i]);
            if (START.matcher(line).matches() ? isContent(line.substring(3)) : isContent(line)) {
                return true;
            }
        }
        return false;
    }

    private static boolean isContent(String line) {
        String s = line.strip();
        if (s.startsWith("\uFEFF")) {
            s = s.substring(1).strip();
        }
        return !s.isEmpty() && !s.startsWith("#") && !s.startsWith("%");
    }

    private static Document classify(int number, int line, String text, boolean content, String fileName) {
        if (!content) {
            return new Document(number, line, text, Kind.EMPTY, null, null, Map.of());
        }
        Node root;
        try {
            String body = text.startsWith("\uFEFF") ? text.substring(1) : text;
            root = new Yaml(new SafeConstructor(new LoaderOptions())).compose(new StringReader(body));
        } catch (YAMLException e) {
            return new Document(number, line, text, Kind.MERGE, null, null, Map.of());
        }
        if (YamlNodes.isNull(root)) {
            return new Document(number, line, text, Kind.EMPTY, null, null, Map.of());
        }
        if (!(root instanceof MappingNode mapping)) {
            return new Document(number, line, text, Kind.MERGE, null, null, Map.of());
        }
        Map<String, Where> keys = new LinkedHashMap<>();
        String name = null;
        Where nameWhere = null;
        for (NodeTuple t : mapping.getValue()) {
            if (t.getKeyNode() instanceof ScalarNode k) {
                keys.putIfAbsent(k.getValue(), at(fileName, k, k.getValue()));
                if (k.getValue().equals("name") && t.getValueNode() instanceof ScalarNode v
                        && v.getTag().equals(Tag.STR)) {
                    name = v.getValue();
                    nameWhere = at(fileName, v, "name");
                }
            }
        }
        boolean moe = !keys.containsKey("merge_method") && (keys.containsKey("experts") || keys.containsKey("gate_mode"));
        return new Document(number, line, text, moe ? Kind.MOE : Kind.MERGE, name, nameWhere, keys);
    }

    private static Where at(String fileName, Node node, String keyPath) {
        Mark m = node.getStartMark();
        return Where.at(fileName, m.getLine() + 1, m.getColumn() + 1, keyPath);
    }
}
