package dev.amalgam.synth;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.DType;
import dev.amalgam.io.PyJson;
import dev.amalgam.io.SafetensorsFile;
import dev.amalgam.io.SafetensorsIndex;
import dev.amalgam.io.SafetensorsWriter;
import dev.amalgam.io.TensorInfo;
import dev.amalgam.kernel.Codec;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * Writes small but real Hugging Face model directories: the synth tool behind {@code amalgam synth},
 * the demo and the tests. A fresh model gets seeded random weights (linear weights N(0, 0.02²), norm
 * weights 1 + N(0, 0.02²)); a derived model is a base model plus N(0, noise²) on every
 * floating-point value, keeping the base's names, shapes, config and tokenizer. Each tensor draws from
 * its own generator keyed by (seed, tensor name), so the output does not depend on order or thread
 * count, and the same seed gives byte-identical files.
 *
 * <p>The directory holds {@code config.json} and {@code generation_config.json} as transformers
 * writes them, {@code model.safetensors} or {@code model-0000k-of-0000N.safetensors} shards of
 * roughly equal size with {@code model.safetensors.index.json} (tensors in name order), and a
 * minimal WordLevel tokenizer ({@code <unk>}=0, {@code <s>}=1, {@code </s>}=2). Tensors are
 * generated in parallel and written through {@link SafetensorsWriter}.
 */
public final class Synth {

    /** The architectures a fresh model can have. */
    public static final List<String> SUPPORTED_ARCHITECTURES =
            Stream.of(Family.values()).map(f -> f.synthName).toList();

    /** Files copied verbatim from a base model into a derived one, when present. */
    private static final List<String> TOKENIZER_FILES = List.of(
            "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
            "added_tokens.json", "vocab.json", "merges.txt", "chat_template.jinja", "chat_template.json",
            "generation_config.json");

    private static final int CHUNK = 1 << 16;
    private static final double INIT_STD = 0.02;
    private static final int BOS = 1;
    private static final int EOS = 2;
    private static final int MAX_POSITIONS = 2048;

    private static final ObjectMapper JSON = JsonMapper.builder(JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build()).build();

    private Synth() {
    }

    /**
     * What was written.
     *
     * @param dir          the model directory
     * @param architecture its architecture
     * @param parameters   number of tensor elements
     * @param tensorBytes  bytes of tensor data (the index's {@code total_size})
     * @param fileBytes    bytes of all files written
     * @param files        the files written, in order
     */
    public record Result(Path dir, String architecture, long parameters, long tensorBytes, long fileBytes,
            List<Path> files) {
    }

    /** One tensor to generate: name, dtype, shape, and where its values come from. */
    private record Plan(String name, DType dtype, long[] shape, Source source) {
        long numel() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        long byteSize() {
            return Math.multiplyExact(numel(), (long) dtype.byteSize());
        }
    }

    /** Where a tensor's values come from. */
    private sealed interface Source {
    }

    /** Fresh values: {@code mean + std * N(0, 1)}. */
    private record Fresh(float mean, double std) implements Source {
    }

    /** Position ids: {@code 0, 1, 2, ...} along the last dimension. */
    private record Positions(long length) implements Source {
    }

    /** A base tensor, plus {@code noise * N(0, 1)} when it is floating point. */
    private record Derived(SafetensorsFile file, TensorInfo info, double noise) implements Source {
    }

    /**
     * Writes the model described by {@code spec} into {@code outDir}, which must not exist or be empty.
     *
     * @throws AmalgamException INPUT for an invalid spec, an unknown architecture, a non-empty output
     *                          directory or an unreadable base model; IO when writing fails
     */
    public static Result write(SynthSpec spec, Path outDir) {
        prepareOutDir(outDir);
        List<Path> written = new ArrayList<>();
        List<SafetensorsFile> opened = new ArrayList<>();
        boolean ok = false;
        try {
            Result r = spec.base() == null
                    ? writeFresh(spec, outDir, written)
                    : writeDerived(spec, outDir, written, opened);
            ok = true;
            return r;
        } finally {
            opened.forEach(SafetensorsFile::close);
            if (!ok) {
                for (Path p : written) {
                    try {
                        Files.deleteIfExists(p);
                    } catch (IOException ignored) {
                        // cleanup after a failure is best effort; the original error is reported
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------------------- fresh model

    private static Result writeFresh(SynthSpec spec, Path outDir, List<Path> written) {
        Family family = Family.of(spec.architecture());
        DType dtype = spec.dtype() == null ? DType.F16 : spec.dtype();
        checkSpec(spec, dtype);
        boolean tied = family.tied(spec.tied());
        int headDim = spec.hidden() / spec.heads();
        List<Plan> plans = new ArrayList<>();
        for (Family.Tensor t : family.tensors(spec, headDim, tied)) {
            plans.add(t.positions()
                    ? new Plan(t.name(), DType.I64, t.shape(), new Positions(t.shape()[t.shape().length - 1]))
                    : new Plan(t.name(), dtype, t.shape(), new Fresh(t.mean(), INIT_STD)));
        }
        plans.sort(Comparator.comparing(Plan::name));
        long[] sizes = writeTensors(plans, spec.seed(), spec.shards(), outDir, written);

        Map<String, Object> config = family.config(spec, headDim, tied, dtype);
        writeText(outDir.resolve("config.json"), PyJson.dumps(config, true) + "\n", written);
        Map<String, Object> gen = new LinkedHashMap<>();
        gen.put("_from_model_config", true);
        gen.put("bos_token_id", BOS);
        gen.put("eos_token_id", EOS);
        writeText(outDir.resolve("generation_config.json"), PyJson.dumps(gen, true) + "\n", written);
        Tokenizer.write(outDir, spec.vocab(), MAX_POSITIONS, written);
        return result(outDir, family.architecture, sizes, written);
    }

    private static void checkSpec(SynthSpec s, DType dtype) {
        requirePositive("hidden", s.hidden());
        requirePositive("intermediate", s.intermediate());
        requirePositive("layers", s.layers());
        requirePositive("heads", s.heads());
        requirePositive("kv-heads", s.kvHeads());
        requirePositive("shards", s.shards());
        if (s.vocab() < 4) {
            throw bad("vocab must be at least 4 (three special tokens and one more), got " + s.vocab(), "--vocab");
        }
        if (s.hidden() % s.heads() != 0) {
            throw bad(String.format(Locale.ROOT, "hidden %d is not a multiple of heads %d", s.hidden(), s.heads()),
                    "--hidden");
        }
        if (s.heads() % s.kvHeads() != 0) {
            throw bad(String.format(Locale.ROOT, "heads %d is not a multiple of kv-heads %d", s.heads(), s.kvHeads()),
                    "--kv-heads");
        }
        checkDtype(dtype);
    }

    private static void checkDtype(DType dtype) {
        if (dtype != DType.F16 && dtype != DType.BF16 && dtype != DType.F32) {
            throw bad("dtype must be float16, bfloat16 or float32, got " + dtype.torchName(), "--dtype");
        }
    }

    private static void requirePositive(String what, int v) {
        if (v <= 0) {
            throw bad(what + " must be positive, got " + v, "--" + what);
        }
    }

    private static AmalgamException bad(String message, String option) {
        return AmalgamException.input(message, Where.at(null, 0, 0, option), "fix " + option);
    }

    // ----------------------------------------------------------------------------- derived model

    private static Result writeDerived(SynthSpec spec, Path outDir, List<Path> written, List<SafetensorsFile> opened) {
        Path base = spec.base();
        if (!Files.isDirectory(base)) {
            throw AmalgamException.input("base model '" + base + "' is not a directory", Where.file(base),
                    "pass a Hugging Face model directory with config.json and safetensors files");
        }
        if (spec.shards() <= 0) {
            throw bad("shards must be positive, got " + spec.shards(), "--shards");
        }
        if (!(spec.noise() >= 0) || Double.isInfinite(spec.noise())) {
            throw bad("noise must be a finite non-negative number, got " + spec.noise(), "--noise");
        }
        Path configPath = base.resolve("config.json");
        ObjectNode config = readConfig(configPath);
        Map<String, TensorInfo> infos = new TreeMap<>();
        Map<String, SafetensorsFile> owner = new LinkedHashMap<>();
        openBase(base, opened, infos, owner);

        DType dtype = spec.dtype();
        if (dtype == null) {
            dtype = infos.values().stream().map(TensorInfo::dtype).filter(DType::isFloatingPoint).findFirst()
                    .orElse(DType.F16);
        }
        checkDtype(dtype);
        List<Plan> plans = new ArrayList<>();
        for (TensorInfo t : infos.values()) {
            DType out = t.dtype().isFloatingPoint() ? dtype : t.dtype();
            plans.add(new Plan(t.name(), out, t.shape(), new Derived(owner.get(t.name()), t, spec.noise())));
        }
        long[] sizes = writeTensors(plans, spec.seed(), spec.shards(), outDir, written);

        if (config.has("torch_dtype") || !config.has("dtype")) {
            config.put("torch_dtype", dtype.torchName());
        }
        if (config.has("dtype")) {
            config.put("dtype", dtype.torchName());
        }
        writeText(outDir.resolve("config.json"), PyJson.dumps(config, true) + "\n", written);
        for (String f : TOKENIZER_FILES) {
            Path src = base.resolve(f);
            if (Files.isRegularFile(src)) {
                Path dst = outDir.resolve(f);
                try {
                    Files.copy(src, dst, StandardCopyOption.COPY_ATTRIBUTES);
                    written.add(dst);
                } catch (IOException e) {
                    throw AmalgamException.io("cannot copy '" + src + "' to '" + dst + "': " + e.getMessage(),
                            Where.file(dst), "check the output directory and free disk space", e);
                }
            }
        }
        JsonNode arch = config.path("architectures").path(0);
        return result(outDir, arch.isTextual() ? arch.textValue() : "unknown", sizes, written);
    }

    private static ObjectNode readConfig(Path configPath) {
        try {
            JsonNode n = JSON.readTree(Files.readAllBytes(configPath));
            if (n instanceof ObjectNode o) {
                return o;
            }
            throw AmalgamException.input("config.json is not a JSON object", Where.file(configPath),
                    "the base model's config.json is corrupt");
        } catch (NoSuchFileException e) {
            throw new AmalgamException(AmalgamException.Kind.INPUT, "base model has no config.json",
                    Where.file(configPath), "pass a Hugging Face model directory", e);
        } catch (JsonProcessingException e) {
            throw AmalgamException.input("config.json is not valid JSON: " + e.getOriginalMessage(),
                    Where.file(configPath), "the base model's config.json is corrupt");
        } catch (IOException e) {
            throw AmalgamException.io("cannot read '" + configPath + "': " + e.getMessage(), Where.file(configPath),
                    "check that the file is readable", e);
        }
    }

    private static void openBase(Path base, List<SafetensorsFile> opened, Map<String, TensorInfo> infos,
            Map<String, SafetensorsFile> owner) {
        Path single = base.resolve("model.safetensors");
        Path index = base.resolve(SafetensorsIndex.FILE_NAME);
        if (Files.isRegularFile(index)) {
            Map<String, String> weightMap = SafetensorsIndex.readWeightMap(index);
            Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
            for (String shard : new TreeSet<>(weightMap.values())) {
                SafetensorsFile f = SafetensorsFile.open(base.resolve(shard));
                opened.add(f);
                shards.put(shard, f);
            }
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                SafetensorsFile f = shards.get(e.getValue());
                TensorInfo t = f.tensor(e.getKey());
                if (t == null) {
                    throw AmalgamException.input("tensor '" + e.getKey() + "' is listed in the index but missing from "
                                    + e.getValue(), Where.tensor(index, e.getKey()),
                            "the index does not match the shards; download the model again");
                }
                infos.put(t.name(), t);
                owner.put(t.name(), f);
            }
        } else if (Files.isRegularFile(single)) {
            SafetensorsFile f = SafetensorsFile.open(single);
            opened.add(f);
            for (TensorInfo t : f.tensors()) {
                infos.put(t.name(), t);
                owner.put(t.name(), f);
            }
        } else {
            throw AmalgamException.input("base model '" + base + "' has neither model.safetensors nor "
                    + SafetensorsIndex.FILE_NAME, Where.file(base), "pass a model directory with safetensors weights");
        }
        if (infos.isEmpty()) {
            throw AmalgamException.input("base model '" + base + "' has no tensors", Where.file(base),
                    "pass a model directory with weights");
        }
    }

    // ----------------------------------------------------------------------------------- tensors

    /** Splits, writes and finishes the shards (and the index); returns {elements, tensor bytes}. */
    private static long[] writeTensors(List<Plan> plans, long seed, int shards, Path outDir, List<Path> written) {
        if (shards > plans.size()) {
            throw bad(String.format(Locale.ROOT, "%d shards requested but the model has only %d tensors",
                    shards, plans.size()), "--shards");
        }
        int[] shardOf = assignShards(plans, shards);
        List<List<SafetensorsWriter.Entry>> entries = new ArrayList<>();
        for (int s = 0; s < shards; s++) {
            entries.add(new ArrayList<>());
        }
        for (int i = 0; i < plans.size(); i++) {
            Plan p = plans.get(i);
            entries.get(shardOf[i]).add(new SafetensorsWriter.Entry(p.name(), p.dtype(), p.shape()));
        }
        Map<String, String> meta = Map.of("format", "pt");
        List<String> names = new ArrayList<>();
        List<SafetensorsWriter> writers = new ArrayList<>();
        long numel = 0;
        long bytes = 0;
        try {
            for (int s = 0; s < shards; s++) {
                String name = shards == 1 ? "model.safetensors"
                        : String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", s + 1, shards);
                names.add(name);
                Path p = outDir.resolve(name);
                SafetensorsWriter w = SafetensorsWriter.create(p, entries.get(s), meta);
                written.add(p);
                writers.add(w);
            }
            IntStream.range(0, plans.size()).parallel()
                    .forEach(i -> generate(plans.get(i), seed, writers.get(shardOf[i])));
            for (SafetensorsWriter w : writers) {
                w.finish();
            }
        } finally {
            writers.forEach(SafetensorsWriter::close);
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (int i = 0; i < plans.size(); i++) {
            numel += plans.get(i).numel();
            bytes += plans.get(i).byteSize();
            weightMap.put(plans.get(i).name(), names.get(shardOf[i]));
        }
        if (shards > 1) {
            Path idx = outDir.resolve(SafetensorsIndex.FILE_NAME);
            SafetensorsIndex.write(idx, bytes, weightMap, Map.of());
            written.add(idx);
        }
        return new long[] {numel, bytes};
    }

    /**
     * Shard of each tensor (in name order): a tensor goes to the next shard once the bytes before its
     * middle pass that shard's share, and every shard gets at least one tensor.
     */
    static int[] assignShards(List<Plan> plans, int shards) {
        long total = 0;
        for (Plan p : plans) {
            total += p.byteSize();
        }
        int[] out = new int[plans.size()];
        int shard = 0;
        int inShard = 0;
        long before = 0;
        for (int i = 0; i < plans.size(); i++) {
            long size = plans.get(i).byteSize();
            int tensorsLeft = plans.size() - i;
            int shardsAfter = shards - 1 - shard;
            boolean pastShare = (double) (before + size / 2) * shards > (double) (shard + 1) * total;
            if (inShard > 0 && shardsAfter > 0 && (pastShare || tensorsLeft == shardsAfter)) {
                shard++;
                inShard = 0;
            }
            out[i] = shard;
            inShard++;
            before += size;
        }
        return out;
    }

    private static void generate(Plan p, long seed, SafetensorsWriter w) {
        SplittableRandom rng = new SplittableRandom(tensorSeed(seed, p.name()));
        long numel = p.numel();
        int es = p.dtype().byteSize();
        float[] buf = new float[(int) Math.min(CHUNK, numel)];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(Math.max(1, (long) buf.length * es));
            for (long done = 0; done < numel; done += buf.length) {
                int n = (int) Math.min(buf.length, numel - done);
                switch (p.source()) {
                    case Fresh f -> {
                        for (int i = 0; i < n; i++) {
                            buf[i] = (float) (f.mean() + f.std() * rng.nextGaussian());
                        }
                    }
                    case Positions ps -> {
                        for (int i = 0; i < n; i++) {
                            buf[i] = (done + i) % ps.length();
                        }
                    }
                    case Derived d -> {
                        MemorySegment src = d.file().data(d.info());
                        Codec.decode(d.info().dtype(), src, done * d.info().dtype().byteSize(), buf, 0, n);
                        if (d.info().dtype().isFloatingPoint() && d.noise() > 0) {
                            for (int i = 0; i < n; i++) {
                                buf[i] = (float) (buf[i] + d.noise() * rng.nextGaussian());
                            }
                        }
                    }
                }
                Codec.encode(p.dtype(), buf, 0, n, out, 0);
                w.write(p.name(), done * es, out.asSlice(0, (long) n * es));
            }
        }
    }

    /** The generator seed of one tensor: a mix of the run's seed and a 64-bit hash of the name. */
    static long tensorSeed(long seed, String name) {
        long h = 0xcbf29ce484222325L; // FNV-1a 64
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xFF;
            h *= 0x100000001b3L;
        }
        return mix64(mix64(seed) ^ h);
    }

    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    // ----------------------------------------------------------------------------------- files

    private static void prepareOutDir(Path outDir) {
        try {
            if (Files.exists(outDir)) {
                if (!Files.isDirectory(outDir)) {
                    throw AmalgamException.input("output '" + outDir + "' exists and is not a directory",
                            Where.file(outDir), "choose a new directory");
                }
                try (Stream<Path> s = Files.list(outDir)) {
                    if (s.findAny().isPresent()) {
                        throw AmalgamException.input("output directory '" + outDir + "' is not empty; refusing to overwrite it",
                                Where.file(outDir), "choose a new directory or remove this one first");
                    }
                }
            } else {
                Files.createDirectories(outDir);
            }
        } catch (IOException e) {
            throw AmalgamException.io("cannot create output directory '" + outDir + "': " + e.getMessage(),
                    Where.file(outDir), "check the path and its permissions", e);
        }
    }

    static void writeText(Path p, String text, List<Path> written) {
        try {
            Files.writeString(p, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            written.add(p);
        } catch (FileAlreadyExistsException e) {
            throw AmalgamException.io("'" + p + "' already exists; refusing to overwrite it", Where.file(p),
                    "choose a new output directory", e);
        } catch (IOException e) {
            throw AmalgamException.io("cannot write '" + p + "': " + e.getMessage(), Where.file(p),
                    "check the output directory and free disk space", e);
        }
    }

    private static Result result(Path dir, String arch, long[] sizes, List<Path> written) {
        long fileBytes = 0;
        for (Path p : written) {
            try {
                fileBytes += Files.size(p);
            } catch (IOException e) {
                throw AmalgamException.io("cannot stat '" + p + "': " + e.getMessage(), Where.file(p),
                        "check the output directory", e);
            }
        }
        return new Result(dir, arch, sizes[0], sizes[1], fileBytes, List.copyOf(written));
    }
}
