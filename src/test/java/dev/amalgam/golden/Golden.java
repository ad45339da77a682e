package dev.amalgam.golden;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.amalgam.cli.Main;
import dev.amalgam.io.DType;
import dev.amalgam.io.SafetensorsFile;
import dev.amalgam.io.SafetensorsIndex;
import dev.amalgam.io.TensorInfo;
import dev.amalgam.kernel.Codec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Test support for the golden cases: runs a case's recipe through the real CLI from the golden
 * root (as the reference runs were made) and compares the output tensors with the reference.
 */
public final class Golden {

    private static final ObjectMapper JSON = new ObjectMapper();

    private Golden() {
    }

    /** The golden root, holding {@code models/} and {@code cases/}. */
    public static Path root() {
        try {
            return Path.of(Golden.class.getResource("/golden/README.md").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Path caseDir(String name) {
        return root().resolve("cases").resolve(name);
    }

    /** The extra command-line options the reference run used (e.g. --out-shard-size 100K). */
    public static List<String> referenceOptions(String name) throws IOException {
        JsonNode argv = JSON.readTree(caseDir(name).resolve("case.json").toFile()).get("argv");
        List<String> opts = new ArrayList<>();
        for (int i = 3; i < argv.size(); i++) {
            opts.add(argv.get(i).asText());
        }
        return opts;
    }

    /** Result of a CLI run. */
    public record Run(int exitCode, String out, String err) {
    }

    /**
     * Runs {@code amalgam merge} on a case. The recipe is copied next to {@code models/} in the
     * golden root, so its relative model paths resolve through the recipe-directory fallback.
     */
    public static Run merge(String name, Path out, String... extra) throws IOException {
        Path recipe = root().resolve("recipe-" + name + ".yml");
        Files.copy(caseDir(name).resolve("config.yml"), recipe, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        List<String> args = new ArrayList<>(List.of("merge", recipe.toString(), out.toString(), "--quiet"));
        args.addAll(referenceOptions(name));
        args.addAll(List.of(extra));
        return cli(args.toArray(String[]::new));
    }

    /** Runs the CLI in-process. */
    public static Run cli(String... args) {
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        int code = Main.run(new PrintWriter(o), new PrintWriter(e), args);
        return new Run(code, o.toString(), e.toString());
    }

    /** Per-tensor comparison of two model directories. */
    public record Comparison(long elements, long bitEqual, long withinOneUlp, double maxAbs,
                             List<String> problems, Map<String, Long> differingByTensor) {

        public double bitEqualFraction() {
            return elements == 0 ? 1 : (double) bitEqual / elements;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%d elements, %.5f%% bit-equal, %d within one ulp, max |diff| %.3g, "
                    + "problems %s", elements, 100 * bitEqualFraction(), withinOneUlp, maxAbs, problems);
        }
    }

    /** Opens every tensor of a model directory (single file or shards). */
    public static Map<String, float[]> load(Path dir, Map<String, DType> dtypes) throws IOException {
        Map<String, float[]> out = new LinkedHashMap<>();
        List<Path> files = new ArrayList<>();
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.exists(index)) {
            for (String f : new java.util.TreeSet<>(SafetensorsIndex.readWeightMap(index).values())) {
                files.add(dir.resolve(f));
            }
        } else {
            files.add(dir.resolve("model.safetensors"));
        }
        for (Path f : files) {
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                for (TensorInfo t : sf.tensors()) {
                    float[] v = new float[(int) t.numel()];
                    Codec.decode(t.dtype(), sf.data(t), 0, v, 0, v.length);
                    out.put(t.name(), v);
                    dtypes.put(t.name(), t.dtype());
                }
            }
        }
        return out;
    }

    /** Compares our output with the reference output, tensor by tensor. */
    public static Comparison compare(Path ours, Path reference) throws IOException {
        Map<String, DType> od = new LinkedHashMap<>();
        Map<String, DType> rd = new LinkedHashMap<>();
        Map<String, float[]> o = load(ours, od);
        Map<String, float[]> r = load(reference, rd);
        List<String> problems = new ArrayList<>();
        Map<String, Long> differing = new LinkedHashMap<>();
        long n = 0;
        long eq = 0;
        long ulp = 0;
        double maxAbs = 0;
        if (!o.keySet().equals(r.keySet())) {
            problems.add("tensor names differ: ours " + o.size() + ", reference " + r.size());
        }
        for (Map.Entry<String, float[]> e : r.entrySet()) {
            float[] a = o.get(e.getKey());
            float[] b = e.getValue();
            if (a == null) {
                continue;
            }
            if (od.get(e.getKey()) != rd.get(e.getKey())) {
                problems.add(e.getKey() + ": dtype " + od.get(e.getKey()) + " vs " + rd.get(e.getKey()));
            }
            if (a.length != b.length) {
                problems.add(e.getKey() + ": size " + a.length + " vs " + b.length);
                continue;
            }
            DType dt = rd.get(e.getKey());
            long diff = 0;
            for (int i = 0; i < a.length; i++) {
                n++;
                if (Float.floatToIntBits(a[i]) == Float.floatToIntBits(b[i])) {
                    eq++;
                    continue;
                }
                diff++;
                double d = Math.abs((double) a[i] - b[i]);
                maxAbs = Math.max(maxAbs, d);
                if (d <= ulpOf(dt, b[i])) {
                    ulp++;
                }
            }
            if (diff > 0) {
                differing.put(e.getKey(), diff);
            }
        }
        return new Comparison(n, eq, ulp, maxAbs, problems, differing);
    }

    /** One unit in the last place of {@code x} in dtype {@code dt}. */
    public static double ulpOf(DType dt, float x) {
        double ax = Math.abs(x);
        return switch (dt) {
            case F16 -> ax < 6.103515625e-05 ? Math.scalb(1.0, -24) : Math.ulp((float) ax) * 8192.0;
            case BF16 -> Math.ulp((float) ax) * 65536.0;
            default -> Math.ulp((float) ax);
        };
    }
}
