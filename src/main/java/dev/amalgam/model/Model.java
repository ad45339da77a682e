package dev.amalgam.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.SafetensorsFile;
import dev.amalgam.io.SafetensorsIndex;
import dev.amalgam.io.TensorInfo;
import dev.amalgam.io.TensorSource;
import dev.amalgam.io.TorchCheckpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * An opened input model directory: its {@code config.json}, every tensor file mapped once, and
 * the index from tensor name to file. Model stage; opening validates every file's header (or
 * pickle), so a corrupt or hostile file is reported before any merging starts.
 *
 * <p>Tensor files are found as mergekit finds them: {@code model.safetensors.index.json} with its
 * shards, else {@code model.safetensors}, else {@code pytorch_model.bin.index.json} with its shards,
 * else {@code pytorch_model.bin}. Every file read must lie inside the model directory once links
 * are resolved (inside a Hugging Face cache snapshot, links into the repository's {@code blobs}
 * folder are allowed too).
 */
public final class Model implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();

    /** One way of storing a model's tensors: file names and the reader for them. */
    private record Layout(String single, String index, String format, Function<Path, TensorSource> opener) {
    }

    private static final List<Layout> LAYOUTS = List.of(
            new Layout("model.safetensors", "model.safetensors.index.json", "safetensors", SafetensorsFile::open),
            new Layout("pytorch_model.bin", "pytorch_model.bin.index.json", "PyTorch", TorchCheckpoint::open));

    private final Path dir;
    private final String displayName;
    private final ObjectNode config;
    private final List<TensorSource> shards;
    private final Map<String, TensorHandle> tensors;
    private final Map<String, List<String>> storedNames;
    private final Path adapterDir;

    private Model(Path dir, String displayName, ObjectNode config, List<TensorSource> shards,
                  Map<String, TensorHandle> tensors, Map<String, List<String>> storedNames, Path adapterDir) {
        this.dir = dir;
        this.displayName = displayName;
        this.config = config;
        this.shards = shards;
        this.tensors = tensors;
        this.storedNames = storedNames;
        this.adapterDir = adapterDir;
    }

    /**
     * The same model seen through other tensors (an adapter applied, experts fused): it owns this
     * model's files and {@code moreFiles}, and replaces this model, which must not be used or closed
     * afterwards.
     *
     * @param tensors     every tensor of the view, by name
     * @param storedNames for a tensor assembled from stored tensors of other names, those names
     * @param adapter     the LoRA adapter directory applied, or null (keeps this model's)
     */
    Model view(Map<String, TensorHandle> tensors, List<TensorSource> moreFiles, Map<String, List<String>> storedNames,
               Path adapter) {
        List<TensorSource> all = new ArrayList<>(shards);
        all.addAll(moreFiles);
        Map<String, List<String>> names = new HashMap<>(this.storedNames);
        names.putAll(storedNames);
        return new Model(dir, displayName, config, List.copyOf(all), Collections.unmodifiableMap(new TreeMap<>(tensors)),
                Map.copyOf(names), adapter != null ? adapter : adapterDir);
    }

    /**
     * Opens a Hugging Face model directory: {@code model.safetensors} or the shards listed by
     * {@code model.safetensors.index.json}, else {@code pytorch_model.bin} or the shards listed by
     * {@code pytorch_model.bin.index.json}.
     *
     * @param displayName how the recipe names the model, for messages
     */
    public static Model open(Path dir, String displayName) {
        if (!Files.isDirectory(dir)) {
            throw AmalgamException.input("model directory not found: " + dir, Where.file(displayName),
                    "check the path; relative paths resolve against the working directory, then the recipe's directory");
        }
        List<Path> roots = allowedRoots(dir);
        ObjectNode config = readConfig(dir, roots);
        List<TensorSource> shards = new ArrayList<>();
        Map<String, TensorHandle> tensors = new TreeMap<>();
        try {
            Layout layout = null;
            for (Layout l : LAYOUTS) {
                if (Files.exists(dir.resolve(l.index()), LinkOption.NOFOLLOW_LINKS)
                        || Files.exists(dir.resolve(l.single()), LinkOption.NOFOLLOW_LINKS)) {
                    layout = l;
                    break;
                }
            }
            if (layout == null) {
                throw AmalgamException.input("no model files in " + dir, Where.file(displayName),
                        "expected model.safetensors or model.safetensors.index.json with its shards"
                                + " (or pytorch_model.bin or pytorch_model.bin.index.json with its shards)");
            }
            Path index = dir.resolve(layout.index());
            if (Files.exists(index, LinkOption.NOFOLLOW_LINKS)) {
                openSharded(dir, roots, layout, index, shards, tensors);
            } else {
                Path single = dir.resolve(layout.single());
                checkInside(single, roots, Where.file(single));
                TensorSource f = layout.opener().apply(single);
                shards.add(f);
                for (TensorInfo info : f.tensors()) {
                    tensors.put(info.name(), new TensorHandle(f, info));
                }
            }
        } catch (RuntimeException e) {
            shards.forEach(TensorSource::close);
            throw e;
        }
        return new Model(dir, displayName, config, List.copyOf(shards), Collections.unmodifiableMap(tensors), Map.of(),
                null);
    }

    private static void openSharded(Path dir, List<Path> roots, Layout layout, Path index, List<TensorSource> shards,
            Map<String, TensorHandle> tensors) {
        checkInside(index, roots, Where.file(index));
        Map<String, String> weightMap = SafetensorsIndex.readWeightMap(index);
        Map<String, String> firstTensor = new HashMap<>();
        weightMap.forEach((tensor, shard) -> firstTensor.putIfAbsent(shard, tensor));
        Map<String, TensorSource> byShard = new LinkedHashMap<>();
        for (String shard : new TreeSet<>(weightMap.values())) {
            Path p = dir.resolve(shard);
            Where where = Where.tensor(index, firstTensor.get(shard));
            if (!Files.isRegularFile(p)) {
                boolean brokenLink = Files.isSymbolicLink(p);
                throw AmalgamException.input("shard " + shard + " listed in the index (for tensor " + firstTensor.get(shard)
                                + (brokenLink ? " and others) is a link to a missing file" : " and others) is missing"),
                        where, "the download may be incomplete; fetch the model again");
            }
            checkInside(p, roots, where);
            TensorSource f = layout.opener().apply(p);
            shards.add(f);
            byShard.put(shard, f);
        }
        for (Map.Entry<String, String> e : weightMap.entrySet()) {
            TensorSource f = byShard.get(e.getValue());
            TensorInfo info = f.tensor(e.getKey());
            if (info == null) {
                throw new AmalgamException(AmalgamException.Kind.MISSING_TENSOR,
                        "the index maps " + e.getKey() + " to " + e.getValue() + ", which does not contain it",
                        Where.tensor(index, e.getKey()), "the index and the shards disagree; fetch the model again");
            }
            tensors.put(e.getKey(), new TensorHandle(f, info));
        }
        for (TensorSource f : shards) {
            for (TensorInfo info : f.tensors()) {
                if (!tensors.containsKey(info.name())) {
                    throw AmalgamException.input("tensor " + info.name() + " is in " + f.path().getFileName()
                                    + " but not in the index", Where.tensor(index, info.name()),
                            "the index and the shards disagree; fetch the model again");
                }
            }
        }
    }

    /**
     * Where the files of {@code dir} may lie once links are resolved: the directory itself, and for
     * a Hugging Face cache snapshot ({@code models--org--name/snapshots/<commit>}) the repository's
     * {@code blobs} folder.
     */
    static List<Path> allowedRoots(Path dir) {
        Path real = realPath(dir, Where.file(dir));
        List<Path> roots = new ArrayList<>(List.of(real));
        Path snapshots = real.getParent();
        Path repo = snapshots == null ? null : snapshots.getParent();
        if (repo != null && snapshots.getFileName().toString().equals("snapshots")
                && repo.getFileName().toString().startsWith("models--")) {
            roots.add(repo.resolve("blobs"));
        }
        return roots;
    }

    /** Refuses {@code file} when links take it outside the allowed roots. */
    static void checkInside(Path file, List<Path> roots, Where where) {
        if (!Files.exists(file)) {
            return;
        }
        Path real = realPath(file, where);
        for (Path r : roots) {
            if (real.startsWith(r) && !real.equals(r)) {
                return;
            }
        }
        throw AmalgamException.input(file.getFileName() + " resolves to " + real + ", outside the model directory "
                        + roots.getFirst(), where,
                "a model file may link only within its own directory (or a Hugging Face cache's blobs);"
                        + " copy the file into the model directory, or link the whole directory instead");
    }

    private static Path realPath(Path p, Where where) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            throw AmalgamException.io("cannot resolve '" + p + "': " + e.getMessage(), where,
                    "check that the path exists and is readable", e);
        }
    }

    private static ObjectNode readConfig(Path dir, List<Path> roots) {
        Path p = dir.resolve("config.json");
        if (!Files.isRegularFile(p)) {
            throw AmalgamException.input("config.json is missing in " + dir, Where.file(p),
                    "a Hugging Face model directory needs its config.json");
        }
        checkInside(p, roots, Where.file(p));
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

    /** The directory of the LoRA adapter applied to this model ({@code model+lora}), or null. */
    public Path adapterDir() {
        return adapterDir;
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

    /** The names of the stored tensors that tensor {@code name} is read from (itself, unless assembled). */
    public List<String> storedNames(String name) {
        return storedNames.getOrDefault(name, List.of(name));
    }

    /** The opened tensor files, in the order they were opened. */
    public List<TensorSource> shards() {
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
        shards.forEach(TensorSource::close);
    }

    @Override
    public String toString() {
        return displayName;
    }
}
