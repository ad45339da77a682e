package dev.amalgam.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A Hugging Face tokenizer directory, read: the model vocabulary of {@code tokenizer.json} (BPE,
 * WordPiece, WordLevel or Unigram), its added tokens with their flags, {@code tokenizer_config.json},
 * {@code special_tokens_map.json} and the chat template. Tokenizer stage. Directories without
 * {@code tokenizer.json} are read from {@code tokenizer.model} (SentencePiece) or {@code vocab.json},
 * plus {@code added_tokens.json}; such a tokenizer can be carried along but not changed.
 *
 * <p>The vocabulary is what transformers' {@code get_vocab()} returns: model tokens and added
 * tokens, token to id. The builder of the output vocabulary changes a copy with
 * {@link #strip(int)} and {@link #add(AddedToken)}, which follow the tokenizers library: an added
 * token whose text is in the model vocabulary takes that id, a new one takes the next free id.
 */
public final class HfTokenizer {

    static final String TOKENIZER_JSON = "tokenizer.json";
    static final String CONFIG = "tokenizer_config.json";
    static final String SPECIAL_MAP = "special_tokens_map.json";
    static final String TEMPLATE = "chat_template.jinja";
    static final String SP_MODEL = "tokenizer.model";
    static final String ADDED_JSON = "added_tokens.json";
    static final String VOCAB_JSON = "vocab.json";
    static final String MERGES_TXT = "merges.txt";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PARSE_HINT = "the file is not one the Hugging Face tokenizers library reads; "
            + "restore it, or load and save the tokenizer once with transformers";

    private final Path dir;
    private final String owner;
    private final ObjectNode json;            // tokenizer.json, or null
    private final String modelType;           // BPE | WordPiece | WordLevel | Unigram | SentencePiece | vocab.json
    private String[] modelById;               // (model vocab) token text per id, null for gaps
    private final Map<String, Integer> modelIds;
    private final TreeMap<Integer, AddedToken> added;
    private final Map<String, Integer> addedIds;
    private final ObjectNode config;          // tokenizer_config.json, or null
    private final ObjectNode specialMap;      // special_tokens_map.json, or null
    private final String templateFile;        // chat_template.jinja, or null
    private boolean stripped;
    private boolean changed;

    private HfTokenizer(Path dir, String owner, ObjectNode json, String modelType, String[] modelById,
                        Map<String, Integer> modelIds, TreeMap<Integer, AddedToken> added, ObjectNode config,
                        ObjectNode specialMap, String templateFile) {
        this.dir = dir;
        this.owner = owner;
        this.json = json;
        this.modelType = modelType;
        this.modelById = modelById;
        this.modelIds = modelIds;
        this.added = added;
        this.addedIds = new HashMap<>();
        added.values().forEach(a -> addedIds.put(a.content(), a.id()));
        this.config = config;
        this.specialMap = specialMap;
        this.templateFile = templateFile;
    }

    /** True when {@code dir} holds a tokenizer this class can read. */
    public static boolean present(Path dir) {
        return Files.isRegularFile(dir.resolve(TOKENIZER_JSON)) || Files.isRegularFile(dir.resolve(SP_MODEL))
                || Files.isRegularFile(dir.resolve(VOCAB_JSON));
    }

    /**
     * Reads the tokenizer in {@code dir}; null when there is none. A file that does not parse is
     * an {@code INPUT} error naming it (with line:column for JSON).
     *
     * @param owner how the recipe names the model, for messages
     */
    public static HfTokenizer read(Path dir, String owner) {
        if (!present(dir)) {
            return null;
        }
        ObjectNode config = readObject(dir.resolve(CONFIG), false);
        ObjectNode special = readObject(dir.resolve(SPECIAL_MAP), false);
        String template = null;
        Path tf = dir.resolve(TEMPLATE);
        if (Files.isRegularFile(tf)) {
            template = readText(tf);
        }
        Path tj = dir.resolve(TOKENIZER_JSON);
        if (Files.isRegularFile(tj)) {
            ObjectNode json = readObject(tj, true);
            return fromTokenizerJson(dir, owner, tj, json, config, special, template);
        }
        Map<String, Integer> ids = new LinkedHashMap<>();
        String type;
        if (Files.isRegularFile(dir.resolve(SP_MODEL))) {
            List<String> pieces = SentencePiece.pieces(dir.resolve(SP_MODEL));
            for (int i = 0; i < pieces.size(); i++) {
                ids.putIfAbsent(pieces.get(i), i);
            }
            type = "SentencePiece";
        } else {
            Path vj = dir.resolve(VOCAB_JSON);
            vocabMap(readObject(vj, true), vj, ids);
            type = "vocab.json";
        }
        TreeMap<Integer, AddedToken> added = new TreeMap<>();
        Path aj = dir.resolve(ADDED_JSON);
        if (Files.isRegularFile(aj)) {
            Map<String, Integer> extra = new LinkedHashMap<>();
            vocabMap(readObject(aj, true), aj, extra);
            extra.forEach((t, id) -> added.put(id, AddedToken.normal(id, t)));
        }
        if (config != null && config.get("added_tokens_decoder") instanceof ObjectNode dec) {
            for (Map.Entry<String, JsonNode> e : dec.properties()) {
                int id = parseId(e.getKey(), dir.resolve(CONFIG));
                added.put(id, AddedToken.fromJson(e.getValue(), id));
            }
        }
        return new HfTokenizer(dir, owner, null, type, byId(ids, dir.resolve(type.equals("vocab.json") ? VOCAB_JSON
                : SP_MODEL)), ids, added, config, special, template);
    }

    private static HfTokenizer fromTokenizerJson(Path dir, String owner, Path file, ObjectNode json, ObjectNode config,
                                                 ObjectNode special, String template) {
        if (!(json.get("model") instanceof ObjectNode model)) {
            throw bad(file, "it has no \"model\" object");
        }
        JsonNode vocab = model.get("vocab");
        String type = model.path("type").asText(null);
        if (type == null) {
            type = vocab != null && vocab.isArray() ? "Unigram" : model.has("merges") ? "BPE"
                    : model.has("max_input_chars_per_word") ? "WordPiece" : "WordLevel";
        }
        Map<String, Integer> ids = new LinkedHashMap<>();
        switch (type) {
            case "BPE", "WordPiece", "WordLevel" -> {
                if (!(vocab instanceof ObjectNode v)) {
                    throw bad(file, "model.vocab of a " + type + " model must be an object of token to id");
                }
                vocabMap(v, file, ids);
            }
            case "Unigram" -> {
                if (vocab == null || !vocab.isArray()) {
                    throw bad(file, "model.vocab of a Unigram model must be a list of [piece, score]");
                }
                for (int i = 0; i < vocab.size(); i++) {
                    JsonNode e = vocab.get(i);
                    if (!e.isArray() || e.size() != 2 || !e.get(0).isTextual() || !e.get(1).isNumber()) {
                        throw bad(file, "model.vocab[" + i + "] is not a [piece, score] pair");
                    }
                    ids.putIfAbsent(e.get(0).asText(), i);
                }
            }
            default -> throw bad(file, "unsupported tokenizer model type '" + type
                    + "' (supported: BPE, WordPiece, WordLevel, Unigram)");
        }
        TreeMap<Integer, AddedToken> added = new TreeMap<>();
        JsonNode at = json.get("added_tokens");
        if (at != null && !at.isNull()) {
            if (!at.isArray()) {
                throw bad(file, "\"added_tokens\" must be a list");
            }
            for (int i = 0; i < at.size(); i++) {
                JsonNode a = at.get(i);
                if (!a.isObject() || !a.path("id").canConvertToInt() || !a.path("content").isTextual()
                        || a.get("id").asInt() < 0) {
                    throw bad(file, "added_tokens[" + i + "] needs a non-negative \"id\" and a \"content\" string");
                }
                AddedToken t = AddedToken.fromJson(a, 0);
                added.put(t.id(), t);
            }
        }
        return new HfTokenizer(dir, owner, json, type, byId(ids, file), ids, added, config, special, template);
    }

    private static void vocabMap(ObjectNode v, Path file, Map<String, Integer> ids) {
        for (Map.Entry<String, JsonNode> e : v.properties()) {
            JsonNode id = e.getValue();
            if (!id.canConvertToInt() || !id.isIntegralNumber() || id.asInt() < 0) {
                throw bad(file, "the id of token '" + e.getKey() + "' is not a non-negative integer");
            }
            ids.put(e.getKey(), id.asInt());
        }
    }

    private static String[] byId(Map<String, Integer> ids, Path file) {
        int max = -1;
        for (int id : ids.values()) {
            max = Math.max(max, id);
        }
        if (max >= 16 * Math.max(ids.size(), 1024)) {
            throw bad(file, "token ids go up to " + max + " for " + ids.size() + " tokens");
        }
        String[] out = new String[max + 1];
        ids.forEach((t, id) -> out[id] = t);
        return out;
    }

    private static int parseId(String key, Path file) {
        try {
            int id = Integer.parseInt(key);
            if (id >= 0) {
                return id;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw bad(file, "added_tokens_decoder key '" + key + "' is not a token id");
    }

    private static AmalgamException bad(Path file, String what) {
        return AmalgamException.input("cannot read " + file.getFileName() + ": " + what, Where.file(file), PARSE_HINT);
    }

    static ObjectNode readObject(Path file, boolean required) {
        if (!Files.isRegularFile(file)) {
            if (required) {
                throw AmalgamException.input(file.getFileName() + " not found", Where.file(file), null);
            }
            return null;
        }
        JsonNode n;
        try {
            n = JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            var loc = e.getLocation();
            throw AmalgamException.input("cannot parse " + file.getFileName() + ": " + e.getOriginalMessage(),
                    loc == null ? Where.file(file) : Where.at(file, loc.getLineNr(), loc.getColumnNr(), null),
                    PARSE_HINT);
        } catch (IOException e) {
            throw AmalgamException.io("cannot read " + file.getFileName() + ": " + e.getMessage(), Where.file(file),
                    null, e);
        }
        if (!(n instanceof ObjectNode o)) {
            throw bad(file, "it is not a JSON object");
        }
        return o;
    }

    static String readText(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw AmalgamException.io("cannot read " + file.getFileName() + ": " + e.getMessage(), Where.file(file),
                    null, e);
        }
    }

    /** A copy to build an output vocabulary from; the source files are shared, not copied. */
    HfTokenizer copy() {
        HfTokenizer c = new HfTokenizer(dir, owner, json, modelType, modelById.clone(), new HashMap<>(modelIds),
                new TreeMap<>(added), config, specialMap, templateFile);
        c.stripped = stripped;
        c.changed = changed;
        return c;
    }

    /** Removes every token with id {@code >= n}: from the model vocabulary and the added tokens. */
    void strip(int n) {
        if (n >= size()) {
            return;
        }
        for (int id = n; id < modelById.length; id++) {
            if (modelById[id] != null) {
                modelIds.remove(modelById[id], id);
            }
        }
        if (modelById.length > n) {
            modelById = Arrays.copyOf(modelById, n);
        }
        while (!added.isEmpty() && added.lastKey() >= n) {
            AddedToken t = added.pollLastEntry().getValue();
            addedIds.remove(t.content(), t.id());
        }
        stripped = true;
        changed = true;
    }

    /**
     * Adds a token as transformers' {@code add_tokens} does, except that a token that is already an
     * added token keeps its definition. Returns its id.
     */
    int add(AddedToken def) {
        Integer have = addedIds.get(def.content());
        if (have != null) {
            return have;
        }
        Integer id = modelIds.get(def.content());
        int newId = id != null ? id : size();
        added.put(newId, def.withId(newId));
        addedIds.put(def.content(), newId);
        changed = true;
        return newId;
    }

    /** The directory read. */
    public Path dir() {
        return dir;
    }

    /** The model the tokenizer belongs to, as the recipe names it. */
    public String owner() {
        return owner;
    }

    /** {@code BPE}, {@code WordPiece}, {@code WordLevel}, {@code Unigram}; {@code SentencePiece} or {@code vocab.json} without tokenizer.json. */
    public String modelType() {
        return modelType;
    }

    /** True when read from tokenizer.json (and so writable when changed). */
    public boolean hasTokenizerJson() {
        return json != null;
    }

    /** The id after the largest one: the number of embedding rows the tokenizer needs. */
    public int size() {
        int n = modelById.length;
        return added.isEmpty() ? n : Math.max(n, added.lastKey() + 1);
    }

    /** The id of a token (added tokens first, as the tokenizers library looks them up), or -1. */
    public int id(String token) {
        Integer a = addedIds.get(token);
        if (a != null) {
            return a;
        }
        Integer m = modelIds.get(token);
        return m == null ? -1 : m;
    }

    /** The token with this id, or null. */
    public String token(int id) {
        AddedToken a = added.get(id);
        if (a != null) {
            return a.content();
        }
        return id >= 0 && id < modelById.length ? modelById[id] : null;
    }

    /** Tokens by ascending id (the order Amalgam walks a vocabulary); gaps are skipped. */
    public Map<String, Integer> vocab() {
        Map<String, Integer> out = new LinkedHashMap<>();
        int n = size();
        for (int id = 0; id < n; id++) {
            String t = token(id);
            if (t != null) {
                out.putIfAbsent(t, id);
            }
        }
        return out;
    }

    /** The added tokens by id. */
    public Collection<AddedToken> addedTokens() {
        return added.values();
    }

    /** The added token with this text, or null. */
    public AddedToken addedToken(String content) {
        Integer id = addedIds.get(content);
        return id == null ? null : added.get(id);
    }

    /** True once tokens were stripped or added. */
    public boolean changed() {
        return changed;
    }

    /** tokenizer_config.json as read, or null. Do not modify. */
    ObjectNode config() {
        return config;
    }

    /** special_tokens_map.json as read, or null. Do not modify. */
    ObjectNode specialMap() {
        return specialMap;
    }

    /** The text of chat_template.jinja, or null. */
    String templateFile() {
        return templateFile;
    }

    /**
     * The default chat template: {@code chat_template.jinja} if present (transformers 5 reads it
     * first), else tokenizer_config.json's {@code chat_template} (a string, or the entry named
     * {@code default} of a list); null when there is none.
     */
    public String chatTemplate() {
        if (templateFile != null) {
            return templateFile;
        }
        JsonNode t = config == null ? null : config.get("chat_template");
        if (t == null || t.isNull()) {
            return null;
        }
        if (t.isTextual()) {
            return t.asText();
        }
        if (t.isArray()) {
            for (JsonNode e : t) {
                if ("default".equals(e.path("name").asText(null)) && e.path("template").isTextual()) {
                    return e.get("template").asText();
                }
            }
        }
        return null;
    }

    /** tokenizer.json with the current vocabulary; only for tokenizers read from tokenizer.json. */
    ObjectNode toTokenizerJson() {
        ObjectNode out = json.deepCopy();
        ObjectNode model = (ObjectNode) out.get("model");
        if (stripped) {
            switch (modelType) {
                case "Unigram" -> {
                    ArrayNode v = (ArrayNode) model.get("vocab");
                    while (v.size() > modelById.length) {
                        v.remove(v.size() - 1);
                    }
                }
                default -> {
                    ObjectNode v = JsonNodeFactory.instance.objectNode();
                    for (int id = 0; id < modelById.length; id++) {
                        if (modelById[id] != null && modelIds.get(modelById[id]) == id) {
                            v.put(modelById[id], id);
                        }
                    }
                    model.set("vocab", v);
                }
            }
            if (modelType.equals("BPE") && model.get("merges") instanceof ArrayNode merges) {
                model.set("merges", keptMerges(merges, model.path("continuing_subword_prefix").asText("")));
            }
        }
        ArrayNode at = JsonNodeFactory.instance.arrayNode();
        added.values().forEach(a -> at.add(a.toTokenizerJson()));
        out.set("added_tokens", at);
        return out;
    }

    /** The merges whose parts and result are all still in the vocabulary, in their format. */
    private ArrayNode keptMerges(ArrayNode merges, String prefix) {
        ArrayNode kept = JsonNodeFactory.instance.arrayNode();
        for (JsonNode m : merges) {
            String a;
            String b;
            if (m.isArray() && m.size() == 2) {
                a = m.get(0).asText();
                b = m.get(1).asText();
            } else {
                String s = m.asText();
                int sp = s.indexOf(' ');
                if (sp < 0) {
                    continue;
                }
                a = s.substring(0, sp);
                b = s.substring(sp + 1);
            }
            String result = a + (b.length() >= prefix.length() ? b.substring(prefix.length()) : b);
            if (modelIds.containsKey(a) && modelIds.containsKey(b) && modelIds.containsKey(result)) {
                kept.add(m);
            }
        }
        return kept;
    }

    @Override
    public String toString() {
        return owner + " (" + modelType + ", " + size() + " tokens)";
    }
}
