package dev.amalgam.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.DType;
import dev.amalgam.io.SafetensorsFile;
import dev.amalgam.io.TensorInfo;
import dev.amalgam.io.TensorSource;
import dev.amalgam.io.TorchCheckpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A PEFT LoRA adapter directory applied to its base model while the base's tensors are read — the
 * {@code model+lora} reference. Model stage. Nothing is merged ahead of time and no cache directory
 * is written: {@link #apply} returns a view of the base model whose adapted tensors are
 * {@link Derivation.Lora} and whose {@code modules_to_save} tensors come from the adapter.
 *
 * <p>From {@code adapter_config.json}: {@code r} and {@code lora_alpha} (scale α/r, or α/√r with
 * {@code use_rslora}), {@code rank_pattern} and {@code alpha_pattern} (per-module values, a key
 * matching a module name or its dotted tail as a regular expression), {@code target_modules} (names
 * matched against a module name or its dotted tail, a regular expression matched against the whole
 * name, or {@code all-linear}), {@code exclude_modules}, and {@code fan_in_fan_out}. From the
 * weights ({@code adapter_model.safetensors}, else {@code adapter_model.bin}), named
 * {@code base_model.model.<module>.<part>} as PEFT saves them: {@code lora_A.weight}/{@code lora_B.weight}
 * (optionally with the adapter name, {@code lora_A.default.weight}), {@code lora_embedding_A}/{@code _B}
 * for embeddings, {@code lora_B.bias} ({@code lora_bias}), and any other tensor as a whole replacement
 * of the base tensor of that name ({@code modules_to_save}, trained biases).
 *
 * <p>Everything is checked up front: the config's fields and types, every factor's shape against
 * its base tensor and rank, and a base tensor for every adapter tensor. Adapter weights of modules
 * that {@code target_modules} does not name are ignored with a warning, as PEFT ignores them; a
 * target that matches no module of the base model is a warning too. DoRA, trainable tokens and
 * {@code target_parameters} adapters are refused.
 */
public final class LoraAdapter {

    /** The file of adapter configuration in an adapter directory. */
    public static final String CONFIG = "adapter_config.json";

    private static final String PREFIX = "base_model.model.";
    private static final Pattern LORA_KEY = Pattern.compile(
            "(.+)\\.(lora_A|lora_B|lora_embedding_A|lora_embedding_B|lora_magnitude_vector)((?:\\.[^.]+){0,2})");

    /** The lora_A/lora_B tensors of one module. */
    private static final class Factors {
        TensorInfo a;
        TensorInfo b;
        TensorInfo bias;
        boolean embedding;
    }

    private final Path dir;
    private final String name;
    private final Path configFile;
    private final ObjectNode config;
    private final TensorSource weights;

    private LoraAdapter(Path dir, String name, Path configFile, ObjectNode config, TensorSource weights) {
        this.dir = dir;
        this.name = name;
        this.configFile = configFile;
        this.config = config;
        this.weights = weights;
    }

    /**
     * Opens the adapter in {@code dir} and returns {@code base} seen with it applied. Takes over
     * {@code base}: on success the returned view owns its files (and the adapter's), on failure both
     * are closed.
     *
     * @param name       how the recipe names the adapter, for messages
     * @param mergeDtype the dtype the adapted model is computed and read in (mergekit's
     *                   {@code --lora-merge-dtype}); null keeps each tensor's stored dtype
     * @param warnings   where warnings are added
     */
    public static Model apply(Model base, Path dir, String name, DType mergeDtype, List<String> warnings) {
        LoraAdapter adapter = null;
        try {
            adapter = open(dir, name);
            return adapter.applyTo(base, mergeDtype, warnings);
        } catch (RuntimeException e) {
            if (adapter != null) {
                adapter.weights.close();
            }
            base.close();
            throw e;
        }
    }

    private static LoraAdapter open(Path dir, String name) {
        if (!Files.isDirectory(dir)) {
            throw AmalgamException.input("LoRA adapter directory not found: " + dir, Where.file(name),
                    "a LoRA reference is model+adapter, where adapter is a PEFT adapter directory");
        }
        List<Path> roots = Model.allowedRoots(dir);
        Path cfg = dir.resolve(CONFIG);
        if (!Files.isRegularFile(cfg)) {
            throw AmalgamException.input("'" + name + "' is not a LoRA adapter: " + CONFIG + " is missing in " + dir,
                    Where.file(cfg), "a LoRA reference is model+adapter, where adapter is a PEFT adapter directory "
                            + "(adapter_config.json and adapter_model.safetensors)");
        }
        Model.checkInside(cfg, roots, Where.file(cfg));
        ObjectNode config;
        try {
            JsonNode n = Model.JSON.readTree(cfg.toFile());
            if (!(n instanceof ObjectNode o)) {
                throw AmalgamException.input(CONFIG + " is not a JSON object", Where.file(cfg), null);
            }
            config = o;
        } catch (IOException e) {
            throw AmalgamException.input(CONFIG + " does not parse: " + e.getMessage(), Where.file(cfg),
                    "fix or re-download the adapter");
        }
        Path st = dir.resolve("adapter_model.safetensors");
        Path bin = dir.resolve("adapter_model.bin");
        Path file = Files.exists(st) ? st : Files.exists(bin) ? bin : null;
        if (file == null) {
            throw AmalgamException.input("no adapter weights in " + dir, Where.file(name),
                    "expected adapter_model.safetensors (or adapter_model.bin)");
        }
        Model.checkInside(file, roots, Where.file(file));
        TensorSource weights = file == st ? SafetensorsFile.open(file) : TorchCheckpoint.open(file);
        return new LoraAdapter(dir, name, cfg, config, weights);
    }

    private Model applyTo(Model base, DType mergeDtype, List<String> warnings) {
        checkKind();
        int r = intField("r", 8);
        double alpha = numberField("lora_alpha", 8);
        boolean rslora = boolField("use_rslora");
        boolean fanInFanOut = boolField("fan_in_fan_out");
        Map<String, Double> rankPattern = patternField("rank_pattern");
        Map<String, Double> alphaPattern = patternField("alpha_pattern");
        Targets targets = new Targets(targetField("target_modules"), targetField("exclude_modules"));

        Map<String, Factors> modules = new TreeMap<>();
        Map<String, TensorInfo> replacements = new TreeMap<>();
        for (TensorInfo t : weights.tensors()) {
            String key = t.name().startsWith(PREFIX) ? t.name().substring(PREFIX.length()) : t.name();
            Matcher m = LORA_KEY.matcher(key);
            if (!m.matches()) {
                replacements.put(key.replace(".modules_to_save.default.", ".").replace(".modules_to_save.", "."), t);
                continue;
            }
            String part = m.group(2);
            if (part.equals("lora_magnitude_vector")) {
                throw unsupported("DoRA weights (" + t.name() + ")", "use_dora");
            }
            String param = parameterOf(m.group(3));
            Factors f = modules.computeIfAbsent(m.group(1), k -> new Factors());
            f.embedding |= part.startsWith("lora_embedding");
            if (param.equals("bias") && part.equals("lora_B")) {
                f.bias = t;
            } else if (!param.equals("weight")) {
                throw AmalgamException.input("unexpected adapter tensor " + t.name(), where(t),
                        "LoRA factors are lora_A.weight and lora_B.weight (lora_B.bias with lora_bias)");
            } else if (part.endsWith("A")) {
                f.a = t;
            } else {
                f.b = t;
            }
        }

        Map<String, TensorHandle> view = new LinkedHashMap<>(base.tensors());
        List<String> ignored = new ArrayList<>();
        for (Map.Entry<String, Factors> e : modules.entrySet()) {
            String module = e.getKey();
            Factors f = e.getValue();
            if (f.a == null || f.b == null) {
                TensorInfo have = f.a != null ? f.a : f.b != null ? f.b : f.bias;
                throw AmalgamException.input("adapter module " + module + " has " + (f.a == null ? "no lora_A" : "no lora_B")
                        + " weight", where(have), "the adapter file is incomplete; save or download it again");
            }
            if (!targets.matches(module)) {
                ignored.add(module);
                continue;
            }
            int rank = (int) (double) patternValue(rankPattern, module, r);
            double moduleAlpha = patternValue(alphaPattern, module, alpha);
            checkRank(f, rank);
            float scale = (float) (moduleAlpha / (rslora ? Math.sqrt(rank) : rank));
            TensorHandle w = baseTensor(base, module + ".weight", f.a);
            boolean transposed = layout(f, w, fanInFanOut);
            DType dt = mergeDtype != null ? mergeDtype : w.info().dtype();
            view.put(w.name(), TensorHandle.derived(w.name(), dt, w.info().shape(),
                    new Derivation.Lora(w, handle(f.a), handle(f.b), rank, scale, transposed)));
            if (f.bias != null) {
                TensorHandle bias = baseTensor(base, module + ".bias", f.bias);
                long outRows = f.b.shape()[0];
                if (bias.info().rank() != 1 || bias.info().dim(0) != outRows || f.bias.rank() != 1
                        || f.bias.dim(0) != outRows) {
                    throw shape(f.bias, "lora_B.bias " + f.bias.shapeString() + " does not fit base tensor "
                            + bias.name() + " " + bias.info().shapeString());
                }
                DType bt = mergeDtype != null ? mergeDtype : bias.info().dtype();
                view.put(bias.name(), TensorHandle.derived(bias.name(), bt, bias.info().shape(),
                        new Derivation.Lora(bias, null, handle(f.bias), rank, scale, false)));
            }
        }
        for (Map.Entry<String, TensorInfo> e : replacements.entrySet()) {
            TensorHandle w = baseTensor(base, e.getKey(), e.getValue());
            if (view.get(w.name()) != w) {
                throw AmalgamException.input("the adapter both updates " + w.name() + " with LoRA factors and replaces it",
                        where(e.getValue()), "an adapter module is either a LoRA module or in modules_to_save");
            }
            if (!Arrays.equals(w.info().shape(), e.getValue().shape())) {
                throw shape(e.getValue(), "replacement " + e.getValue().shapeString() + " for " + w.name()
                        + " has another shape than the base tensor " + w.info().shapeString());
            }
            if (w.info().dtype().isFloatingPoint() != e.getValue().dtype().isFloatingPoint()) {
                throw AmalgamException.input("replacement " + e.getValue().name() + " is " + e.getValue().dtype()
                        + " but base tensor " + w.name() + " is " + w.info().dtype(), where(e.getValue()), null);
            }
            DType dt = mergeDtype != null && w.info().dtype().isFloatingPoint() ? mergeDtype : w.info().dtype();
            view.put(w.name(), TensorHandle.derived(w.name(), dt, w.info().shape(),
                    new Derivation.Cast(handle(e.getValue()))));
        }
        if (mergeDtype != null) {
            for (Map.Entry<String, TensorHandle> e : view.entrySet()) {
                TensorHandle h = e.getValue();
                if (h.stored() && h.info().dtype().isFloatingPoint() && h.info().dtype() != mergeDtype) {
                    e.setValue(TensorHandle.derived(h.name(), mergeDtype, h.info().shape(), new Derivation.Cast(h)));
                }
            }
        }
        if (!ignored.isEmpty()) {
            warnings.add(String.format(Locale.ROOT, "LoRA adapter %s: %d module(s) with weights are not in its "
                    + "target_modules and are ignored, as PEFT ignores them: %s", name, ignored.size(),
                    ignored.subList(0, Math.min(5, ignored.size()))));
        }
        for (String t : targets.unmatched(base.tensors().keySet())) {
            warnings.add("LoRA adapter " + name + ": target_modules entry '" + t + "' matches no module of "
                    + base.displayName());
        }
        return base.view(view, List.of(weights), Map.of(), dir);
    }

    /** {@code weight}, or {@code bias}, from the one or two name parts after the factor name. */
    private static String parameterOf(String tail) {
        if (tail.isEmpty()) {
            return "weight";
        }
        String[] parts = tail.substring(1).split("\\.");
        String last = parts[parts.length - 1];
        if (last.equals("weight") || last.equals("bias")) {
            return last;
        }
        return parts.length == 1 ? "weight" : last;
    }

    private void checkKind() {
        JsonNode type = config.get("peft_type");
        if (type != null && !type.isNull() && !type.asText().equals("LORA")) {
            throw unsupported("peft_type " + type.asText(), "peft_type");
        }
        if (boolField("use_dora")) {
            throw unsupported("DoRA (use_dora: true)", "use_dora");
        }
        for (String k : List.of("trainable_token_indices", "target_parameters")) {
            JsonNode v = config.get(k);
            if (v != null && !v.isNull() && !v.isEmpty()) {
                throw unsupported(k, k);
            }
        }
    }

    private AmalgamException unsupported(String what, String key) {
        return AmalgamException.input("LoRA adapter " + name + " uses " + what + ", which Amalgam does not apply",
                Where.at(configFile, 0, 0, key), "merge it into its base model with PEFT (merge_and_unload) and "
                        + "reference the merged directory");
    }

    private int intField(String key, int dflt) {
        JsonNode v = config.get(key);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() <= 0) {
            throw badField(key, "a positive integer", v);
        }
        return v.asInt();
    }

    private double numberField(String key, double dflt) {
        JsonNode v = config.get(key);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isNumber() || !Double.isFinite(v.asDouble())) {
            throw badField(key, "a number", v);
        }
        return v.asDouble();
    }

    private boolean boolField(String key) {
        JsonNode v = config.get(key);
        if (v == null || v.isNull()) {
            return false;
        }
        if (!v.isBoolean()) {
            throw badField(key, "true or false", v);
        }
        return v.asBoolean();
    }

    /** rank_pattern / alpha_pattern: module pattern to number, in file order. */
    private Map<String, Double> patternField(String key) {
        JsonNode v = config.get(key);
        Map<String, Double> out = new LinkedHashMap<>();
        if (v == null || v.isNull()) {
            return out;
        }
        if (!v.isObject()) {
            throw badField(key, "an object of module patterns to numbers", v);
        }
        for (Map.Entry<String, JsonNode> e : v.properties()) {
            if (!e.getValue().isNumber() || !(e.getValue().asDouble() > 0)) {
                throw badField(key + "." + e.getKey(), "a positive number", e.getValue());
            }
            compile("(.*\\.)?(" + e.getKey() + ")", key);
            out.put(e.getKey(), e.getValue().asDouble());
        }
        return out;
    }

    private static double patternValue(Map<String, Double> patterns, String module, double dflt) {
        for (Map.Entry<String, Double> e : patterns.entrySet()) {
            if (Pattern.compile("(.*\\.)?(" + e.getKey() + ")").matcher(module).matches()) {
                return e.getValue();
            }
        }
        return dflt;
    }

    /** target_modules / exclude_modules: null (none given), a list of names, or one pattern string. */
    private Object targetField(String key) {
        JsonNode v = config.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.isTextual()) {
            if (!v.asText().equals("all-linear")) {
                compile(v.asText(), key);
            }
            return v.asText();
        }
        if (!v.isArray()) {
            throw badField(key, "a list of module names or a regular expression", v);
        }
        List<String> names = new ArrayList<>();
        for (JsonNode n : v) {
            if (!n.isTextual()) {
                throw badField(key, "a list of module names", v);
            }
            names.add(n.asText());
        }
        return names;
    }

    private Pattern compile(String regex, String key) {
        try {
            return Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw AmalgamException.input(CONFIG + ": '" + regex + "' is not a valid regular expression: "
                    + e.getDescription(), Where.at(configFile, 0, 0, key), null);
        }
    }

    private AmalgamException badField(String key, String expected, JsonNode got) {
        return AmalgamException.input(CONFIG + ": " + key + " must be " + expected + ", got " + got,
                Where.at(configFile, 0, 0, key), "fix the adapter's configuration");
    }

    /** Which modules the adapter targets, as PEFT decides it from target_modules and exclude_modules. */
    private record Targets(Object include, Object exclude) {

        boolean matches(String module) {
            return (include == null || matches(include, module)) && (exclude == null || !matches(exclude, module));
        }

        @SuppressWarnings("unchecked")
        private static boolean matches(Object spec, String module) {
            if (spec instanceof String s) {
                return s.equals("all-linear") || Pattern.compile(s).matcher(module).matches();
            }
            for (String t : (List<String>) spec) {
                if (module.equals(t) || module.endsWith("." + t)) {
                    return true;
                }
            }
            return false;
        }

        /** The target entries that match no module of a model with these tensors. */
        @SuppressWarnings("unchecked")
        List<String> unmatched(Iterable<String> tensorNames) {
            List<String> modules = new ArrayList<>();
            for (String n : tensorNames) {
                int dot = n.lastIndexOf('.');
                if (dot > 0) {
                    modules.add(n.substring(0, dot));
                }
            }
            List<Object> entries = new ArrayList<>();
            if (include instanceof String s && !s.equals("all-linear")) {
                entries.add(s);
            } else if (include instanceof List<?> l) {
                entries.addAll(l);
            }
            List<String> out = new ArrayList<>();
            for (Object e : entries) {
                Object spec = e instanceof String s && include instanceof List<?> ? List.of(s) : e;
                if (modules.stream().noneMatch(m -> matches(spec, m))) {
                    out.add((String) e);
                }
            }
            return out;
        }
    }

    private void checkRank(Factors f, int rank) {
        if (f.a.rank() != 2 || f.b.rank() != 2) {
            throw shape(f.a.rank() != 2 ? f.a : f.b, "LoRA factors must be matrices, got lora_A "
                    + f.a.shapeString() + " and lora_B " + f.b.shapeString());
        }
        if (f.a.dim(0) != f.b.dim(1)) {
            throw shape(f.b, "lora_A " + f.a.shapeString() + " has rank " + f.a.dim(0) + " but lora_B "
                    + f.b.shapeString() + " has rank " + f.b.dim(1));
        }
        if (f.a.dim(0) != rank) {
            throw shape(f.a, "lora_A " + f.a.shapeString() + " has rank " + f.a.dim(0) + " but adapter_config.json"
                    + " gives this module rank " + rank + " (r or rank_pattern)");
        }
        for (TensorInfo t : List.of(f.a, f.b)) {
            if (!t.dtype().isFloatingPoint()) {
                throw AmalgamException.input("LoRA factor " + t.name() + " is " + t.dtype() + ", not floating point",
                        where(t), null);
            }
        }
    }

    /**
     * True when the update is transposed ({@code (in, out)} weights). Embeddings always are; for a
     * linear module the shapes decide, and {@code fan_in_fan_out} only for square weights — PEFT
     * likewise switches the flag to what the layer is (Conv1D or Linear).
     */
    private boolean layout(Factors f, TensorHandle w, boolean fanInFanOut) {
        long out = f.b.dim(0);
        long in = f.a.dim(1);
        long[] s = w.info().shape();
        boolean normal = s.length == 2 && s[0] == out && s[1] == in;
        boolean transposed = s.length == 2 && s[0] == in && s[1] == out;
        if (f.embedding ? !transposed : !normal && !transposed) {
            throw shape(f.a, String.format(Locale.ROOT, "lora_A %s and lora_B %s make a %s update, which does not "
                            + "fit base tensor %s %s", f.a.shapeString(), f.b.shapeString(),
                    f.embedding ? "[" + in + ", " + out + "]" : "[" + out + ", " + in + "]", w.name(),
                    w.info().shapeString()));
        }
        if (!w.info().dtype().isFloatingPoint()) {
            throw AmalgamException.input("LoRA module " + w.name() + " is " + w.info().dtype() + ", not floating point",
                    where(f.a), null);
        }
        return f.embedding || (transposed && (!normal || fanInFanOut));
    }

    private TensorHandle baseTensor(Model base, String tensor, TensorInfo from) {
        TensorHandle h = base.tensor(tensor);
        if (h == null) {
            JsonNode b = config.get("base_model_name_or_path");
            throw new AmalgamException(AmalgamException.Kind.MISSING_TENSOR, "adapter tensor " + from.name()
                    + " applies to " + tensor + ", which base model " + base.displayName() + " does not have",
                    where(from), "the adapter was made for another model"
                    + (b != null && b.isTextual() ? " (its adapter_config.json names " + b.asText() + ")" : ""));
        }
        return h;
    }

    private TensorHandle handle(TensorInfo t) {
        return new TensorHandle(weights, t);
    }

    private Where where(TensorInfo t) {
        return Where.tensor(weights.path(), t.name());
    }

    private AmalgamException shape(TensorInfo t, String message) {
        return new AmalgamException(AmalgamException.Kind.SHAPE, "LoRA adapter " + name + ": " + message, where(t),
                "the adapter does not belong to this base model, or its adapter_config.json does not match its weights");
    }

    @Override
    public String toString() {
        return name + " (" + dir + ")";
    }
}
