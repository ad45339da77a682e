package dev.amalgam.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * {@code model.safetensors.index.json}: the map from tensor name to shard file of a sharded model.
 * Part of the I/O stage. Reading keeps only {@code weight_map} (as mergekit and transformers do) and
 * refuses shard names that could leave the model directory. Writing produces mergekit's layout:
 * <pre>
 * {
 *   "metadata": {
 *     "total_size": 414848,
 *     "mergekit_version": "0.1.4"
 *   },
 *   "weight_map": {
 *     "lm_head.weight": "model-00001-of-00005.safetensors",
 *     ...
 *   }
 * }
 * </pre>
 * with the weight map in insertion order and no trailing newline ({@code json.dump(..., indent=2)}).
 */
public final class SafetensorsIndex {

    /** Largest index file read: an index of a million tensors is well under this. */
    public static final long MAX_INDEX_BYTES = 100_000_000L;

    /** The conventional file name. */
    public static final String FILE_NAME = "model.safetensors.index.json";

    private static final ObjectMapper JSON = JsonMapper.builder(JsonFactory.builder()
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .build())
            .build();

    private SafetensorsIndex() {
    }

    /**
     * The {@code weight_map} of an index file: tensor name to shard file name, in file order.
     *
     * @throws AmalgamException IO if unreadable; INPUT if not JSON, without a {@code weight_map}
     *                          object, with a non-string shard, or with a shard name that is not a
     *                          plain file name in the same directory
     */
    public static Map<String, String> readWeightMap(Path indexJson) {
        byte[] bytes;
        try {
            long size = Files.size(indexJson);
            if (size > MAX_INDEX_BYTES) {
                throw AmalgamException.input(String.format(Locale.ROOT, "index file is %d bytes, over the limit of %d bytes",
                        size, MAX_INDEX_BYTES), Where.file(indexJson), "the index file is corrupt or is not an index");
            }
            bytes = Files.readAllBytes(indexJson);
        } catch (NoSuchFileException e) {
            throw AmalgamException.io("index file '" + indexJson + "' does not exist", Where.file(indexJson),
                    "check the model directory and that the download is complete", e);
        } catch (AccessDeniedException e) {
            throw AmalgamException.io("permission denied reading '" + indexJson + "'", Where.file(indexJson),
                    "check the file's permissions", e);
        } catch (IOException e) {
            throw AmalgamException.io("cannot read '" + indexJson + "': " + e.getMessage(), Where.file(indexJson),
                    "check that the file is readable", e);
        }
        // UTF-8 only (as transformers reads it); Jackson would otherwise guess UTF-16 or UTF-32
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw AmalgamException.input("index file is not valid UTF-8", Where.file(indexJson),
                    "the index file is corrupt; download it again");
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            var loc = e.getLocation();
            throw new AmalgamException(AmalgamException.Kind.INPUT,
                    "index file is not valid JSON: " + e.getOriginalMessage(),
                    loc == null ? Where.file(indexJson)
                            : Where.at(indexJson, loc.getLineNr(), loc.getColumnNr(), null),
                    "the index file is corrupt; download it again");
        }
        if (root == null || !root.isObject()) {
            throw AmalgamException.input("index file is not a JSON object", Where.file(indexJson),
                    "expected {\"metadata\": {...}, \"weight_map\": {tensor: shard file}}");
        }
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject()) {
            throw AmalgamException.input("index file has no \"weight_map\" object",
                    Where.at(indexJson, 0, 0, "weight_map"),
                    "expected {\"metadata\": {...}, \"weight_map\": {tensor: shard file}}");
        }
        Map<String, String> out = LinkedHashMap.newLinkedHashMap(wm.size());
        for (Map.Entry<String, JsonNode> e : wm.properties()) {
            String tensor = e.getKey();
            JsonNode v = e.getValue();
            if (!v.isTextual()) {
                throw AmalgamException.input("weight_map entry for tensor '" + tensor + "' is " + v + ", not a file name",
                        Where.tensor(indexJson, tensor), "each weight_map value must be a shard file name");
            }
            String shard = v.textValue();
            String why = unsafeReason(shard);
            if (why != null) {
                throw AmalgamException.input("weight_map entry for tensor '" + tensor + "' names shard '" + shard
                                + "', which " + why,
                        Where.tensor(indexJson, tensor),
                        "shard names must be plain file names in the model directory, such as model-00001-of-00002.safetensors");
            }
            out.put(tensor, shard);
        }
        return Collections.unmodifiableMap(out);
    }

    /** Why {@code shard} is not a plain file name inside the directory, or null if it is one. */
    static String unsafeReason(String shard) {
        if (shard.isEmpty()) {
            return "is empty";
        }
        if (shard.equals(".") || shard.equals("..")) {
            return "refers to a directory";
        }
        for (int i = 0; i < shard.length(); i++) {
            char c = shard.charAt(i);
            if (c == '/' || c == '\\') {
                return shard.charAt(0) == c ? "is an absolute path" : "is a path, not a file name";
            }
            if (c == ':') {
                return "contains ':' (a drive or stream name)";
            }
            if (c == 0) {
                return "contains a NUL character";
            }
        }
        return null;
    }

    /**
     * Writes an index file (never overwriting one): {@code metadata} holds {@code total_size} followed
     * by {@code extraMetadata} in its order, {@code weight_map} keeps {@code weightMap}'s order.
     */
    public static void write(Path indexJson, long totalSize, Map<String, String> weightMap,
            Map<String, Object> extraMetadata) {
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("total_size", totalSize);
        if (extraMetadata != null) {
            extraMetadata.forEach((k, v) -> {
                if (!k.equals("total_size")) {
                    meta.put(k, v);
                }
            });
        }
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("metadata", meta);
        root.put("weight_map", weightMap);
        byte[] text = PyJson.dumps(root, true).getBytes(StandardCharsets.UTF_8);
        try {
            Files.write(indexJson, text, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (FileAlreadyExistsException e) {
            throw AmalgamException.io("'" + indexJson + "' already exists; refusing to overwrite it",
                    Where.file(indexJson), "remove the file or choose another output location", e);
        } catch (IOException e) {
            throw AmalgamException.io("cannot write '" + indexJson + "': " + e.getMessage(), Where.file(indexJson),
                    "check the output directory and free disk space", e);
        }
    }
}
