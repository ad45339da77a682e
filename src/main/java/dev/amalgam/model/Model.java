package dev.amalgam.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.SafetensorsFile;
import dev.amalgam.io.SafetensorsIndex;
import dev.amalgam.io.TensorInfo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * An opened input model directory: its {@code config.json}, every safetensors shard mapped
 * once, and the index from tensor name to shard. Model stage; opening validates every shard
 * header, so a corrupt file is reported before any merging starts.
 */
public final class Model implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final String displayName;
    private final ObjectNode config;
    private final List<SafetensorsFile> shards;
    private final Map<String, TensorHandle> tensors;

    private Model(Path dir, String displayName, ObjectNode config, List<SafetensorsFile> shards,
                  Map<String, TensorHandle> tensors) {
        this.dir = dir;
        this.displayName = displayName;
        this.config = config;
        this.shards = shards;
        this.tensors = tensors;
    }

    /**
     * Opens a Hugging Face model directory: {@code model.safetensors}, or the shards listed by
     * {@code model.safetensors.index.json}.
     *
     * @param displayName how the recipe names the model, for messages
     */
    public static Model open(Path dir, String displayName) {
        if (!Files.isDirectory(dir)) {
            throw AmalgamException.input("model directory not found: " + dir, Where.file(displayName),
                    "check the path; relative paths resolve against the working directory, then the recipe's directory");
        }
        ObjectNode config = readConfig(dir);
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        List<SafetensorsFile> shards = new ArrayList<>();
        Map<String, TensorHandle> tensors = new TreeMap<>();
        try {
            if (Files.isRegularFile(index)) {
                Map<String, String> weightMap = SafetensorsIndex.readWeightMap(index);
                Map<String, SafetensorsFile> byShard = new LinkedHashMap<>();
                for (String shard : new TreeSet<>(weightMap.values())) {
                    Path p = dir.resolve(shard);
                    if (!Files.isRegularFile(p)) {
                        throw AmalgamException.input("shard " + shard + " listed in the index is missing",
                                Where.file(index), "the download may be incomplete; fetch the model again");
                    }
                    SafetensorsFile f = SafetensorsFile.open(p);
                    shards.add(f);
                    byShard.put(shard, f);
                }
                for (Map.Entry<String, String> e : weightMap.entrySet()) {
                    SafetensorsFile f = byShard.get(e.getValue());
                    TensorInfo info = f.tensor(e.getKey());
                    if (info == null) {
                        throw new AmalgamException(AmalgamException.Kind.MISSING_TENSOR,
                                "the index maps " + e.getKey() + " to " + e.getValue() + ", which does not contain it",
                                Where.tensor(index, e.getKey()), "the index and the shards disagree; fetch the model again");
                    }
                    tensors.put(e.getKey(), new TensorHandle(f, info));
                }
                for (SafetensorsFile f : shards) {
                    for (TensorInfo info : f.tensors()) {
                        if (!tensors.containsKey(info.name())) {
                            throw AmalgamException.input("tensor " + info.name() + " is in " + f.path().getFileName()
                                            + " but not in the index", Where.tensor(index, info.name()),
                                    "the index and the shards disagree; fetch the model again");
                        }
                    }
                }
            } else if (Files.isRegularFile(single)) {
                SafetensorsFile f = SafetensorsFile.open(single);
                shards.add(f);
                for (TensorInfo info : f.tensors()) {
                    tensors.put(info.name(), new TensorHandle(f, info));
                }
            } else if (Files.exists(dir.resolve("pytorch_model.bin"))
                    || Files.exists(dir.resolve("pytorch_model.bin.index.json"))) {
                throw AmalgamException.input("PyTorch .bin checkpoints are not read yet: " + dir,
                        Where.file(displayName), "convert the model to safetensors first");
            } else {
                throw AmalgamException.input("no model files in " + dir, Where.file(displayName),
                        "expected model.safetensors or model.safetensors.index.json with its shards");
            }
        } catch (RuntimeException e) {
            shards.forEach(SafetensorsFile::close);
            throw e;
        }
        return new Model(dir, displayName, config, List.copyOf(shards), Collections.unmodifiableMap(tensors));
    }

    private static ObjectNode readConfig(Path dir) {
        Path p = dir.resolve("config.json");
        if (!Files.isRegularFile(p)) {
            throw AmalgamException.input("config.json is missing in " + dir, Where.file(p),
                    "a Hugging Face model directory needs its config.json");
        }
        try {
            JsonNode n = JSON.readTree(p.toFile());
            if (!(n instanceof ObjectNode o)) {
                throw AmalgamException.input("config.json is not a JSON object", Where.file(p), null);
            }
            return o;
        } catch (IOException e) {
            throw AmalgamException.input("config.json does not parse: " + e.getMessage(), Where.file(p),
                    "fix or re-download the file");
        }
    }

    public Path dir() {
        return dir;
    }

    public String displayName() {
        return displayName;
    }

    /** The parsed config.json; callers must not modify it (copy with {@code deepCopy()}). */
    public ObjectNode config() {
        return config;
    }

    /** Tensors by name, sorted by name. */
    public Map<String, TensorHandle> tensors() {
        return tensors;
    }

    public TensorHandle tensor(String name) {
        return tensors.get(name);
    }

    public List<SafetensorsFile> shards() {
        return shards;
    }

    /** Total bytes of tensor data. */
    public long dataBytes() {
        long s = 0;
        for (TensorHandle h : tensors.values()) {
            s += h.info().byteSize();
        }
        return s;
    }

    /** The first entry of config.json's {@code architectures}, or null. */
    public String architectureName() {
        JsonNode a = config.get("architectures");
        return a != null && a.isArray() && !a.isEmpty() ? a.get(0).asText() : null;
    }

    @Override
    public void close() {
        shards.forEach(SafetensorsFile::close);
    }

    @Override
    public String toString() {
        return displayName;
    }
}
