package dev.amalgam.fuzz;

import dev.amalgam.io.DType;
import dev.amalgam.io.SafetensorsFile;
import dev.amalgam.io.SafetensorsIndex;
import dev.amalgam.io.SafetensorsWriter;
import dev.amalgam.io.TensorInfo;
import dev.amalgam.io.TorchCheckpoint;
import dev.amalgam.io.TorchWriter;
import dev.amalgam.io.TorchWriter.Options;
import dev.amalgam.io.TorchWriter.Storage;
import dev.amalgam.io.TorchWriter.View;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.error.AmalgamException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Seeded mutation fuzzing of every reader of untrusted input: the safetensors reader, the index
 * reader, the PyTorch zip/pickle reader and the recipe parser. The only exception allowed out is
 * {@link dev.amalgam.error.AmalgamException} (and not of kind INTERNAL).
 *
 * <p>{@code -Dfuzz.iterations=N} sets the iterations per target (default 25 000),
 * {@code -Dfuzz.seed=S} the seed (default 20260601), {@code -Dfuzz.replay=I} runs iteration I only.
 * A one-line summary per target is printed.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class FuzzTest {

    static final int ITERATIONS = Integer.getInteger("fuzz.iterations", 25_000);
    static final long SEED = Long.getLong("fuzz.seed", 20260601L);
    static final long REPLAY = Long.getLong("fuzz.replay", -1L);
    static final Path FINDINGS = Path.of("target", "fuzz-findings");

    @TempDir
    static Path tempDir;

    /** Where the targets write their inputs: tmpfs when there is one (a disk write costs ~1 ms). */
    static Path tmp;

    @BeforeAll
    static void scratch() throws IOException {
        Path shm = Path.of("/dev/shm");
        tmp = Files.isDirectory(shm) && Files.isWritable(shm)
                ? Files.createTempDirectory(shm, "amalgam-fuzz-") : tempDir;
    }

    @AfterAll
    static void cleanUp() throws IOException {
        if (!tmp.equals(tempDir)) {
            try (Stream<Path> s = Files.walk(tmp)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    private static void check(Fuzzer.Target t) {
        Fuzzer.Result r = Fuzzer.run(t, SEED, ITERATIONS, REPLAY, FINDINGS);
        System.out.println(r.summary());
        assertThat(r.findings()).as("fuzz findings of %s", t.name()).isEmpty();
        if (REPLAY < 0) {
            assertThat(r.accepted()).as("%s: some mutants stay valid", t.name()).isPositive();
            assertThat(r.accepted()).as("%s: most mutants are refused", t.name()).isLessThan(r.iterations());
        }
    }

    /** Reads the first and last byte of a tensor's data, so an accepted file is proven readable. */
    private static void touch(MemorySegment s, TensorInfo t) {
        assertThat(s.byteSize()).isEqualTo(t.byteSize());
        if (s.byteSize() > 0) {
            s.get(ValueLayout.JAVA_BYTE, 0);
            s.get(ValueLayout.JAVA_BYTE, s.byteSize() - 1);
        }
    }

    // ------------------------------------------------------------------------------ safetensors

    static List<byte[]> safetensorsSeeds() throws IOException {
        List<byte[]> seeds = new ArrayList<>();
        List<List<SafetensorsWriter.Entry>> shapes = List.of(
                List.of(new SafetensorsWriter.Entry("a.weight", DType.BF16, new long[] {3, 5}),
                        new SafetensorsWriter.Entry("b", DType.F32, new long[] {2}),
                        new SafetensorsWriter.Entry("c.bias", DType.I64, new long[] {1})),
                List.of(new SafetensorsWriter.Entry("scalar", DType.F64, new long[] {}),
                        new SafetensorsWriter.Entry("empty", DType.F16, new long[] {0, 4}),
                        new SafetensorsWriter.Entry("model.layers.0.mlp.down_proj.weight", DType.F8_E4M3, new long[] {2, 2, 2})),
                List.of(new SafetensorsWriter.Entry("w", DType.U8, new long[] {16})));
        int k = 0;
        for (List<SafetensorsWriter.Entry> entries : shapes) {
            Path p = tmp.resolve("seed" + (k++) + ".safetensors");
            try (SafetensorsWriter w = SafetensorsWriter.create(p, entries, k == 2 ? Map.of() : Map.of("format", "pt"))) {
                for (SafetensorsWriter.Entry e : entries) {
                    long n = e.dtype().byteSize();
                    for (long d : e.shape()) {
                        n *= d;
                    }
                    byte[] data = new byte[(int) n];
                    new SplittableRandom(n).nextBytes(data);
                    w.write(e.name(), 0, ByteBuffer.wrap(data));
                }
                w.finish();
            }
            seeds.add(Files.readAllBytes(p));
        }
        return seeds;
    }

    @Test
    void safetensorsReader() throws IOException {
        List<byte[]> seeds = safetensorsSeeds();
        Path file = tmp.resolve("fuzz.safetensors");
        check(new Fuzzer.Target() {
            @Override
            public String name() {
                return "safetensors";
            }

            @Override
            public Set<AmalgamException.Kind> refusalKinds() {
                return EnumSet.of(AmalgamException.Kind.INPUT);
            }

            @Override
            public byte[] generate(SplittableRandom rnd) {
                List<byte[]> tokens = Mutator.utf8("{", "}", "[", "]", "\"", ":", ",", "\"dtype\"", "\"shape\"",
                        "\"data_offsets\"", "\"__metadata__\"", "\"F32\"", "\"BF16\"", "\"U16\"", "null", "-1", " ",
                        "\\u0000", "\"\\ud800\"", "[0,0]", "[]", "{}");
                if (rnd.nextBoolean()) {
                    return new Mutator(rnd, seeds, tokens, true).next();
                }
                // mutate the JSON header only, then usually fix the length prefix so the JSON is parsed
                byte[] seed = seeds.get(rnd.nextInt(seeds.size()));
                int len = (int) ByteBuffer.wrap(seed).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
                byte[] header = new Mutator(rnd, List.of(Arrays.copyOfRange(seed, 8, 8 + len)), tokens, false).next();
                int data = seed.length - 8 - len + (rnd.nextInt(5) == 0 ? rnd.nextInt(17) - 8 : 0);
                ByteBuffer out = ByteBuffer.allocate(8 + header.length + Math.max(0, data)).order(ByteOrder.LITTLE_ENDIAN);
                out.putLong(rnd.nextInt(8) == 0 ? len : header.length).put(header);
                out.put(Arrays.copyOfRange(seed, 8 + len, 8 + len + Math.max(0, Math.min(data, seed.length - 8 - len))));
                return out.array();
            }

            @Override
            public void run(byte[] input) throws IOException {
                Files.write(file, input);
                try (SafetensorsFile f = SafetensorsFile.open(file)) {
                    for (TensorInfo t : f.tensors()) {
                        touch(f.data(t), t);
                    }
                }
            }
        });
    }

    // ------------------------------------------------------------------------------ index

    static List<byte[]> indexSeeds() throws IOException {
        List<byte[]> seeds = new ArrayList<>();
        Map<String, String> wm = new LinkedHashMap<>();
        wm.put("lm_head.weight", "model-00001-of-00002.safetensors");
        wm.put("model.embed_tokens.weight", "model-00002-of-00002.safetensors");
        wm.put("model.layers.0.self_attn.q_proj.weight", "model-00001-of-00002.safetensors");
        Path p = tmp.resolve("seed.index.json");
        SafetensorsIndex.write(p, 414848, wm, Map.of("mergekit_version", "0.1.4"));
        seeds.add(Files.readAllBytes(p));
        seeds.add("{\"weight_map\": {\"a\": \"pytorch_model-00001-of-00001.bin\"}, \"extra\": [1, 2, {\"x\": null}]}"
                .getBytes(StandardCharsets.UTF_8));
        seeds.add("{\"metadata\": {\"total_size\": 0}, \"weight_map\": {}}".getBytes(StandardCharsets.UTF_8));
        return seeds;
    }

    @Test
    void indexReader() throws IOException {
        List<byte[]> seeds = indexSeeds();
        Path file = tmp.resolve("fuzz.index.json");
        check(new Fuzzer.Target() {
            @Override
            public String name() {
                return "index";
            }

            @Override
            public Set<AmalgamException.Kind> refusalKinds() {
                return EnumSet.of(AmalgamException.Kind.INPUT);
            }

            @Override
            public byte[] generate(SplittableRandom rnd) {
                return new Mutator(rnd, seeds, Mutator.utf8("{", "}", "[", "]", "\"", ":", ",", "..", "/", "\\\\", "C:",
                        "\"weight_map\"", "\"../x\"", "\"/etc/passwd\"", "\"\\u0000\"", "null", "true", "1e999", "\"\"",
                        "\\ud800"), false).next();
            }

            @Override
            public void run(byte[] input) throws IOException {
                Files.write(file, input);
                Map<String, String> wm = SafetensorsIndex.readWeightMap(file);
                for (Map.Entry<String, String> e : wm.entrySet()) {
                    assertThat(e.getValue()).doesNotContain("/", "\\", "\0").isNotIn("", ".", "..");
                }
            }
        });
    }

    // ------------------------------------------------------------------------------ torch

    static List<List<View>> torchStateDicts() {
        SplittableRandom r = new SplittableRandom(7);
        byte[] f32 = new byte[4 * 24];
        r.nextBytes(f32);
        byte[] bf16 = new byte[2 * 30];
        r.nextBytes(bf16);
        byte[] i64 = new byte[8 * 3];
        r.nextBytes(i64);
        Storage a = new Storage("0", DType.F32, f32);
        Storage b = new Storage("1", DType.BF16, bf16);
        Storage c = new Storage("2", DType.I64, i64);
        return List.of(
                List.of(View.contiguous("model.embed_tokens.weight", a, 0, 4, 6),
                        View.contiguous("lm_head.weight", a, 0, 4, 6),
                        View.contiguous("model.norm.weight", b, 0, 2, 3, 5),
                        View.contiguous("model.scale", b, 29),
                        View.contiguous("ids", c, 1, 2)),
                List.of(View.contiguous("w", b, 10, 4, 5)));
    }

    @Test
    void torchReader() {
        List<List<View>> dicts = torchStateDicts();
        List<Options> options = List.of(Options.TORCH, Options.TORCH.withProtocol(4), Options.TORCH.nested(),
                Options.TORCH.asParameters(), Options.TORCH.withZip64(), Options.TORCH.deflatingPickle());
        List<byte[]> files = new ArrayList<>();
        List<byte[]> pickles = new ArrayList<>();
        List<Options> pickleOptions = new ArrayList<>();
        List<Map<String, Storage>> pickleStorages = new ArrayList<>();
        for (List<View> d : dicts) {
            for (Options o : options) {
                files.add(TorchWriter.checkpoint(d, o));
                pickles.add(TorchWriter.statePickle(d, o));
                pickleOptions.add(o);
                pickleStorages.add(TorchWriter.storages(d));
            }
        }
        List<byte[]> pickleTokens = Mutator.bytes("(", "t", "R", "Q", "b", "u", "s", "e", "a", "}", "]", ")", "N", ".",
                "\u0085", "\u0086", "q\u0000", "h\u0000", "r\u00ff\u00ff\u00ff\u00ff", "j\u0001\u0000\u0000\u0000",
                "cos\nsystem\n", "cbuiltins\neval\n", "ctorch\nFloatStorage\n", "ctorch._utils\n_rebuild_tensor_v2\n",
                "ccollections\nOrderedDict\n", "\u0093", "\u0094", "\u0095", "X\u00ff\u00ff\u00ff\u007f", "\u008a\u0008");
        Path file = tmp.resolve("fuzz.bin");
        check(new Fuzzer.Target() {
            @Override
            public String name() {
                return "torch";
            }

            @Override
            public Set<AmalgamException.Kind> refusalKinds() {
                return EnumSet.of(AmalgamException.Kind.INPUT);
            }

            @Override
            public byte[] generate(SplittableRandom rnd) {
                if (rnd.nextBoolean()) {
                    // the zip container and everything in it
                    return new Mutator(rnd, files, Mutator.bytes("PK\u0003\u0004", "PK\u0001\u0002", "PK\u0005\u0006",
                            "PK\u0006\u0006", "PK\u0006\u0007", "archive/data.pkl", "archive/data/0"), false).next();
                }
                // the pickle stream, rewrapped in a valid zip so that it is parsed
                int k = rnd.nextInt(pickles.size());
                byte[] pkl = new Mutator(rnd, List.of(pickles.get(k)), pickleTokens, false).next();
                return TorchWriter.archive(pickleOptions.get(k), pkl, pickleStorages.get(k));
            }

            @Override
            public void run(byte[] input) throws IOException {
                Files.write(file, input);
                try (TorchCheckpoint ck = TorchCheckpoint.open(file)) {
                    for (TensorInfo t : ck.tensors()) {
                        touch(ck.data(t), t);
                    }
                }
            }
        });
    }

    // ------------------------------------------------------------------------------ recipes

    static List<byte[]> recipeSeeds() throws IOException {
        Path root = Path.of("src", "test", "resources", "recipes");
        List<byte[]> seeds = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(f -> f.toString().endsWith(".yml") || f.toString().endsWith(".yaml")).sorted().toList()) {
                seeds.add(Files.readAllBytes(p));
            }
        }
        return seeds;
    }

    @Test
    void recipeParser() throws IOException {
        List<byte[]> seeds = recipeSeeds();
        assertThat(seeds).hasSizeGreaterThan(10);
        check(new Fuzzer.Target() {
            @Override
            public String name() {
                return "recipe";
            }

            @Override
            public Set<AmalgamException.Kind> refusalKinds() {
                return EnumSet.of(AmalgamException.Kind.RECIPE);
            }

            @Override
            public byte[] generate(SplittableRandom rnd) {
                return new Mutator(rnd, seeds, Mutator.utf8("\n", "  ", "- ", ": ", "[", "]", "{", "}", ",", "'", "\"", "#",
                        "&a ", "*a", "<<: *a\n", "!!python/object:os.system ", "!!binary ", "!!set ", "? ", "|\n", ">-\n",
                        "---\n", "...\n", "%YAML 1.1\n", "~", "null", "true", "no", "\t", "\u0000", "\ufeff", "\\x",
                        "merge_method: ", "models:\n", "slices:\n", "modules:\n", "sources:\n", "base_model: ",
                        "parameters:\n", "layer_range: ", "filter: ", "value: ", "weight: ", "density: ", "dtype: ",
                        "tokenizer:\n", "tokens:\n", "source: ", "model: ", "lora", "+", "@", "::", "!!int ", "!!float ", "!!bool ",
                        "!!str ", "!!null ", "!!timestamp ", "!!binary ", "!!map ", "!!seq ", "!!omap ", "!!set ",
                        "!!pairs ", "!<tag:yaml.org,2002:int> ", "0x", "0o", "0b", "1:20", "_", ".", "e+"), false).next();
            }

            @Override
            public void run(byte[] input) {
                Recipe r = Recipe.parse(new String(input, StandardCharsets.UTF_8), "fuzz.yml");
                r.referencedModels();
            }
        });
    }

    @BeforeAll
    static void announce() {
        System.out.printf("fuzz: %d iterations per target, seed %d%s%n", ITERATIONS, SEED,
                REPLAY >= 0 ? ", replaying iteration " + REPLAY : "");
    }
}
