package dev.amalgam.recipe;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.recipe.YamlNodes.Field;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.events.DocumentStartEvent;
import org.yaml.snakeyaml.events.Event;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

import java.io.StringReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * Turns YAML text into {@link Recipe} records, field by field after mergekit's
 * {@code MergeConfiguration}; the recipe stage's parser. Types are checked where pydantic checks
 * them, and a few things mergekit only finds later (dtype names, empty gradients, layer ranges,
 * bare conditionals) are rejected here with the same verdict and a better location.
 */
final class RecipeParser {

    private static final List<String> TOP = List.of("merge_method", "models", "slices", "modules", "base_model",
            "parameters", "dtype", "out_dtype", "tokenizer_source", "tokenizer", "chat_template", "name");
    private static final List<String> MODEL_ENTRY = List.of("model", "parameters");
    private static final List<String> SLICE = List.of("sources", "base_model", "residual_weight", "parameters");
    private static final List<String> SOURCE = List.of("model", "layer_range", "parameters");
    private static final List<String> MODULE = List.of("slices", "models", "parameters");
    private static final List<String> MODEL_REF = List.of("model", "lora", "override_architecture");
    private static final List<String> MODEL_PATH = List.of("path", "revision");
    private static final List<String> CONDITIONAL = List.of("filter", "value");
    private static final List<String> TOKENIZER = List.of("source", "tokens", "pad_to_multiple_of");
    private static final List<String> TOKEN = List.of("source", "force");
    private static final List<String> MODEL_TOKEN = List.of("kind", "model", "token_id", "token");
    private static final List<String> DTYPES = List.of("float16", "bfloat16", "float32", "int64");
    private static final Map<String, String> DTYPE_ALIASES = Map.ofEntries(
            Map.entry("bf16", "bfloat16"), Map.entry("fp16", "float16"), Map.entry("f16", "float16"),
            Map.entry("half", "float16"), Map.entry("fp32", "float32"), Map.entry("f32", "float32"),
            Map.entry("float", "float32"), Map.entry("i64", "int64"), Map.entry("long", "int64"));
    private static final String SETTING_HINT = "a parameter is a number, a list of numbers (a gradient over the"
            + " layers) or a list of '- filter: <substring>' / 'value: <number or list>' entries";

    /** One YAML document of a file: its root node and its own text. */
    record Document(Node root, String text) {
    }

    private final YamlNodes y;
    private final Path file;
    private String name;

    private RecipeParser(String fileName, Path file) {
        this.y = new YamlNodes(fileName);
        this.file = file;
    }

    /** Parses text that must hold exactly one YAML document. */
    static Recipe parseOne(String text, String fileName, Path file) {
        List<Document> docs = compose(text, fileName, false);
        if (docs.size() > 1) {
            throw new YamlNodes(fileName).error(docs.get(1).root(), null,
                    String.format(Locale.ROOT, "this file holds %d YAML documents; a recipe is one document", docs.size()),
                    "a file of several '---' documents is a mergekit-multi recipe, one merge per document");
        }
        return new RecipeParser(fileName, file).recipe(docs.isEmpty() ? null : docs.getFirst().root(), text);
    }

    /** Parses every YAML document of a mergekit-multi file. */
    static List<RecipeDocument> parseAll(String text, String fileName, Path file) {
        List<Document> docs = compose(text, fileName, true);
        List<RecipeDocument> out = new ArrayList<>();
        for (Document d : docs.isEmpty() ? List.of(new Document(null, text)) : docs) {
            RecipeParser parser = new RecipeParser(fileName, file);
            Recipe recipe = parser.recipe(d.root(), d.text());
            out.add(new RecipeDocument(parser.name, recipe));
        }
        return List.copyOf(out);
    }

    private static List<Document> compose(String text, String fileName, boolean splitText) {
        String body = text.startsWith("\uFEFF") ? text.substring(1) : text;
        Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()));
        try {
            List<Node> roots = new ArrayList<>();
            for (Node root : yaml.composeAll(new StringReader(body))) {
                roots.add(root);
            }
            List<Integer> starts = new ArrayList<>();
            if (splitText && roots.size() > 1) {
                for (Event e : yaml.parse(new StringReader(body))) {
                    if (e instanceof DocumentStartEvent) {
                        starts.add(body.offsetByCodePoints(0, e.getStartMark().getIndex()));
                    }
                }
            }
            List<Document> docs = new ArrayList<>();
            for (int i = 0; i < roots.size(); i++) {
                String own = starts.size() != roots.size() ? text
                        : body.substring(i == 0 ? 0 : starts.get(i), i + 1 < starts.size() ? starts.get(i + 1) : body.length());
                docs.add(new Document(roots.get(i), own));
            }
            return docs;
        } catch (MarkedYAMLException e) {
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String problem = e.getProblem() != null ? e.getProblem() : e.getMessage().lines().findFirst().orElse("");
            String hint = e.getContext() == null ? "check the indentation and quoting here"
                    : e.getContext() + (e.getContextMark() == null ? "" : String.format(Locale.ROOT, " (line %d:%d)",
                    e.getContextMark().getLine() + 1, e.getContextMark().getColumn() + 1));
            Where where = mark == null ? Where.at(fileName, 0, 0, null)
                    : Where.at(fileName, mark.getLine() + 1, mark.getColumn() + 1, null);
            throw new AmalgamException(AmalgamException.Kind.RECIPE, "invalid YAML: " + problem, where, hint, e);
        } catch (YAMLException e) {
            throw new AmalgamException(AmalgamException.Kind.RECIPE, "invalid YAML: " + e.getMessage(),
                    Where.at(fileName, 0, 0, null), null, e);
        }
    }

    private Recipe recipe(Node root, String text) {
        if (YamlNodes.isNull(root)) {
            throw AmalgamException.recipe("the recipe is empty", y.where(root, null),
                    "a recipe needs at least 'merge_method' and one of 'models', 'slices' or 'modules'");
        }
        if (!(root instanceof MappingNode)) {
            throw y.error(root, null, "a recipe must be a mapping (merge_method: ..., models: ...), not "
                    + YamlNodes.describe(root), null);
        }
        Map<String, Field> f = y.fields(root, null, "the recipe", TOP);
        Field mm = f.get("merge_method");
        if (mm == null || YamlNodes.isNull(mm.value())) {
            throw y.error(mm == null ? root : mm.keyNode(), "merge_method", "missing required key 'merge_method'",
                    "add e.g. 'merge_method: linear'");
        }
        String mergeMethod = y.string(mm.value(), mm.path(), "merge_method");
        Field nameField = f.get("name");
        name = nameField == null ? null : y.string(nameField.value(), nameField.path(), "name");
        List<InputModel> models = nonEmpty(list(f.get("models"), "models", this::inputModel));
        List<OutputSlice> slices = nonEmpty(list(f.get("slices"), "slices", this::outputSlice));
        Map<String, OutputModule> modules = modules(f.get("modules"));
        Field base = f.get("base_model");
        ModelRef baseModel = base == null ? null : modelRef(base.value(), base.path());
        ParameterSet parameters = parameters(f.get("parameters"));
        Field dtype = f.get("dtype");
        Field outDtype = f.get("out_dtype");
        Field legacy = f.get("tokenizer_source");
        Field block = f.get("tokenizer");
        if (legacy != null && !YamlNodes.isNull(legacy.value()) && block != null && !YamlNodes.isNull(block.value())) {
            throw y.error(block.keyNode(), block.path(), "cannot specify both tokenizer_source and tokenizer",
                    "keep the 'tokenizer:' block and move the source into it as 'source:'");
        }
        TokenizerSpec tokenizer = legacy != null && !YamlNodes.isNull(legacy.value()) ? legacyTokenizer(legacy)
                : block != null && !YamlNodes.isNull(block.value()) ? tokenizer(block) : null;
        Field chat = f.get("chat_template");
        String chatTemplate = chat == null ? null : y.string(chat.value(), chat.path(), "chat_template");
        int forms = (models != null ? 1 : 0) + (slices != null ? 1 : 0) + (modules != null ? 1 : 0);
        if (forms != 1) {
            throw y.error(root, null, "Exactly one of 'models', 'slices', or 'modules' must be present", forms == 0
                    ? "add 'models:' (whole models), 'slices:' (layer ranges) or 'modules:' (per module); empty lists do not count"
                    : "this recipe has " + String.join(" and ", present(models, slices, modules)) + "; keep only one");
        }
        return new Recipe(file, text, mergeMethod, y.where(mm.value(), mm.path()), models, slices, modules,
                baseModel, whereOf(base), parameters, dtype(dtype), whereOf(dtype), dtype(outDtype), whereOf(outDtype),
                tokenizer, chatTemplate, whereOf(chat), y.warnings());
    }

    private static List<String> present(Object models, Object slices, Object modules) {
        List<String> names = new ArrayList<>();
        if (models != null) {
            names.add("'models'");
        }
        if (slices != null) {
            names.add("'slices'");
        }
        if (modules != null) {
            names.add("'modules'");
        }
        return names;
    }

    private Where whereOf(Field field) {
        return field == null || YamlNodes.isNull(field.value()) ? null : y.where(field.value(), field.path());
    }

    private static <T> List<T> nonEmpty(List<T> list) {
        return list == null || list.isEmpty() ? null : list;
    }

    private <T> List<T> list(Field field, String what, BiFunction<Node, String, T> item) {
        if (field == null) {
            return null;
        }
        List<Node> nodes = y.list(field.value(), field.path(), what);
        if (nodes == null) {
            return null;
        }
        List<T> out = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            out.add(item.apply(nodes.get(i), YamlNodes.index(field.path(), i)));
        }
        return out;
    }

    private InputModel inputModel(Node node, String path) {
        if (node instanceof ScalarNode && !YamlNodes.isNull(node)) {
            throw y.error(node, path, "a model entry must be a mapping, not " + YamlNodes.describe(node),
                    "write '- model: " + ((ScalarNode) node).getValue() + "'");
        }
        Map<String, Field> f = y.fields(node, path, "a model entry", MODEL_ENTRY);
        return new InputModel(requiredModel(f, node, path), parameters(f.get("parameters")), y.where(node, path));
    }

    private ModelRef requiredModel(Map<String, Field> f, Node node, String path) {
        Field model = f.get("model");
        if (model == null || YamlNodes.isNull(model.value())) {
            throw y.error(model == null ? node : model.keyNode(), YamlNodes.child(path, "model"),
                    "missing required key 'model'", "every entry names its model, e.g. 'model: org/name'");
        }
        return modelRef(model.value(), model.path());
    }

    private OutputSlice outputSlice(Node node, String path) {
        Map<String, Field> f = y.fields(node, path, "a slice", SLICE);
        Field sources = f.get("sources");
        List<InputSlice> inputs = list(sources, "sources", this::inputSlice);
        if (inputs == null || inputs.isEmpty()) {
            throw y.error(sources == null ? node : sources.value(), YamlNodes.child(path, "sources"),
                    "a slice needs a non-empty 'sources' list",
                    "e.g. 'sources: [{model: org/name, layer_range: [0, 32]}]'");
        }
        Field base = f.get("base_model");
        Field residual = f.get("residual_weight");
        Double residualWeight = null;
        if (residual != null && !YamlNodes.isNull(residual.value())) {
            residualWeight = y.numeric(residual.value());
            if (residualWeight == null) {
                throw y.error(residual.value(), residual.path(),
                        "residual_weight must be a number, not " + YamlNodes.describe(residual.value()), null);
            }
            y.warn(residual.keyNode(), residual.path(), "residual_weight is never used",
                    "mergekit parses it and ignores it; so does Amalgam");
        }
        return new OutputSlice(inputs, base == null ? null : modelRef(base.value(), base.path()),
                residualWeight, parameters(f.get("parameters")), y.where(node, path));
    }

    private InputSlice inputSlice(Node node, String path) {
        Map<String, Field> f = y.fields(node, path, "a source", SOURCE);
        ModelRef model = requiredModel(f, node, path);
        Field range = f.get("layer_range");
        String rangePath = YamlNodes.child(path, "layer_range");
        String expect = "layer_range must be [start, end] with whole numbers 0 <= start < end (end is exclusive)";
        if (range == null || YamlNodes.isNull(range.value())) {
            throw y.error(range == null ? node : range.keyNode(), rangePath, "missing required key 'layer_range'",
                    "write e.g. 'layer_range: [0, 32]' for the first 32 layers (end is exclusive)");
        }
        if (!(range.value() instanceof SequenceNode seq) || seq.getValue().size() != 2
                || !seq.getValue().stream().allMatch(n -> n instanceof ScalarNode s && s.getTag().equals(Tag.INT))) {
            throw y.error(range.value(), rangePath, expect + "; got " + shown(range.value()), null);
        }
        int start = y.integer(seq.getValue().get(0), YamlNodes.index(rangePath, 0), "layer_range start");
        int end = y.integer(seq.getValue().get(1), YamlNodes.index(rangePath, 1), "layer_range end");
        if (start < 0 || end <= start) {
            throw y.error(range.value(), rangePath, expect + "; got " + shown(range.value()),
                    end <= start && start >= 0 ? "a range [a, b] holds layers a..b-1, so b must be greater than a" : null);
        }
        return new InputSlice(model, start, end, parameters(f.get("parameters")), y.where(node, path),
                y.where(range.value(), rangePath));
    }

    private static String shown(Node node) {
        if (node instanceof SequenceNode s && s.getValue().stream().allMatch(n -> n instanceof ScalarNode)) {
            List<String> items = s.getValue().stream().map(n -> ((ScalarNode) n).getValue()).toList();
            return "[" + String.join(", ", items) + "]";
        }
        return YamlNodes.describe(node);
    }

    private Map<String, OutputModule> modules(Field field) {
        if (field == null || YamlNodes.isNull(field.value())) {
            return null;
        }
        Map<String, OutputModule> modules = new LinkedHashMap<>();
        for (Field m : y.fields(field.value(), field.path(), "modules").values()) {
            Map<String, Field> f = y.fields(m.value(), m.path(), "module '" + m.key() + "'", MODULE);
            List<OutputSlice> slices = nonEmpty(list(f.get("slices"), "slices", this::outputSlice));
            List<InputModel> models = nonEmpty(list(f.get("models"), "models", this::inputModel));
            if ((slices == null) == (models == null)) {
                throw y.error(m.value(), m.path(), "module '" + m.key() + "' must specify either output slices or models to merge",
                        "give the module exactly one non-empty 'slices:' or 'models:' list");
            }
            modules.put(m.key(), new OutputModule(slices, models, parameters(f.get("parameters")), y.where(m.value(), m.path())));
        }
        return modules.isEmpty() ? null : modules;
    }

    /**
     * A model reference: the string form {@code path[@rev][+lora[@rev]]} or the map form
     * {@code {model, lora, override_architecture}} whose parts are {@code path[@rev]} or {@code {path, revision}}.
     */
    private ModelRef modelRef(Node node, String path) {
        if (YamlNodes.isNull(node)) {
            return null;
        }
        if (node instanceof MappingNode) {
            return modelRefMap(y.fields(node, path, "a model reference", MODEL_REF), node, path);
        }
        String s = y.string(node, path, "a model reference");
        return ModelRef.parse(s, y.where(node, path));
    }

    private ModelRef modelRefMap(Map<String, Field> f, Node node, String path) {
        Field model = f.get("model");
        if (model == null || YamlNodes.isNull(model.value())) {
            throw y.error(node, YamlNodes.child(path, "model"), "missing required key 'model' in a model reference",
                    "the map form is {model: path[@revision], lora: path[@revision], override_architecture: Name}");
        }
        String[] m = modelPath(model);
        Field lora = f.get("lora");
        String[] l = lora == null || YamlNodes.isNull(lora.value()) ? new String[2] : modelPath(lora);
        Field arch = f.get("override_architecture");
        String override = arch == null ? null : y.string(arch.value(), arch.path(), "override_architecture");
        return new ModelRef(m[0], m[1], l[0], l[1], override);
    }

    private String[] modelPath(Field field) {
        if (field.value() instanceof MappingNode) {
            Map<String, Field> f = y.fields(field.value(), field.path(), "a model path", MODEL_PATH);
            Field p = f.get("path");
            String path = p == null ? null : y.string(p.value(), p.path(), "path");
            if (path == null || path.isEmpty()) {
                throw y.error(field.value(), YamlNodes.child(field.path(), "path"), "missing required key 'path'", null);
            }
            Field r = f.get("revision");
            return new String[] {path, r == null ? null : y.string(r.value(), r.path(), "revision")};
        }
        String s = y.string(field.value(), field.path(), field.key());
        Where where = y.where(field.value(), field.path());
        if (s.contains("+")) {
            throw AmalgamException.recipe("'+' is not allowed in '" + field.key() + "': '" + s + "'", where,
                    "in the map form a LoRA goes under its own key: {model: base, lora: adapter}");
        }
        return ModelRef.parsePath(s, s, where);
    }

    private ParameterSet parameters(Field field) {
        if (field == null || YamlNodes.isNull(field.value())) {
            return ParameterSet.EMPTY;
        }
        Map<String, Setting> settings = new LinkedHashMap<>();
        for (Field p : y.fields(field.value(), field.path(), "parameters").values()) {
            settings.put(p.key(), setting(p.value(), p.path(), p.key()));
        }
        return new ParameterSet(settings);
    }

    /** mergekit's ParameterSetting: number, gradient, or list of conditionals (§1.4). */
    private Setting setting(Node node, String path, String name) {
        if (node instanceof SequenceNode seq && !seq.getValue().isEmpty() && seq.getValue().getFirst() instanceof MappingNode) {
            List<Setting.Conditional> entries = new ArrayList<>();
            for (int i = 0; i < seq.getValue().size(); i++) {
                Node item = seq.getValue().get(i);
                String itemPath = YamlNodes.index(path, i);
                if (!(item instanceof MappingNode)) {
                    throw y.error(item, itemPath, "parameter '" + name + "' mixes conditionals and "
                            + YamlNodes.describe(item), "every entry of a conditional list is '- filter: ... value: ...'");
                }
                Map<String, Field> f = y.fields(item, itemPath, "a conditional", CONDITIONAL);
                Field value = f.get("value");
                if (value == null) {
                    throw y.error(item, YamlNodes.child(itemPath, "value"), "a conditional of parameter '" + name
                            + "' has no 'value'", "write '- filter: <substring>' followed by 'value: <number or list>'");
                }
                Field filter = f.get("filter");
                String text = filter == null ? null : y.string(filter.value(), filter.path(), "filter");
                entries.add(new Setting.Conditional(text, scalarOrGradient(value.value(), value.path(), name),
                        y.where(item, itemPath)));
            }
            return new Setting.Conditionals(entries, y.where(node, path));
        }
        if (node instanceof MappingNode) {
            boolean conditional = y.fields(node, path, "parameter").containsKey("value");
            throw y.error(node, path, conditional
                    ? "parameter '" + name + "' is a single conditional, not a list of them"
                    : "parameter '" + name + "' must be a number, a list of numbers or a list of conditionals, not a mapping",
                    conditional ? "write it as a list item: '- filter: ...' / '  value: ...' (mergekit would fail"
                            + " later with 'Unexpected setting value')" : SETTING_HINT);
        }
        return scalarOrGradient(node, path, name);
    }

    private Setting scalarOrGradient(Node node, String path, String name) {
        if (node instanceof SequenceNode seq) {
            if (seq.getValue().isEmpty()) {
                throw y.error(node, path, "parameter '" + name + "' is an empty list",
                        "a gradient needs at least one number (mergekit fails later with an IndexError)");
            }
            double[] knots = new double[seq.getValue().size()];
            for (int i = 0; i < knots.length; i++) {
                Node item = seq.getValue().get(i);
                Double v = y.numeric(item);
                if (v == null) {
                    throw y.error(item, YamlNodes.index(path, i), "gradient of parameter '" + name
                            + "' must hold only numbers, not " + YamlNodes.describe(item),
                            item instanceof MappingNode || item instanceof SequenceNode
                                    ? "conditionals do not nest: a conditional's value is a number or a list of numbers"
                                    : SETTING_HINT);
                }
                knots[i] = v;
            }
            return new Setting.Gradient(knots, y.where(node, path));
        }
        Double v = y.numeric(node);
        if (v == null) {
            throw y.error(node, path, "parameter '" + name + "' must be a number, a list of numbers or a list of"
                    + " conditionals, not " + YamlNodes.describe(node), node instanceof MappingNode
                    ? "conditionals do not nest: a conditional's value is a number or a list of numbers" : SETTING_HINT);
        }
        return new Setting.Scalar(v, y.where(node, path));
    }

    private String dtype(Field field) {
        if (field == null || YamlNodes.isNull(field.value())) {
            return null;
        }
        String s = y.string(field.value(), field.path(), field.key());
        String name = s.startsWith("torch.") ? s.substring("torch.".length()) : s;
        if (DTYPES.contains(name)) {
            return name;
        }
        String near = DTYPE_ALIASES.getOrDefault(name.toLowerCase(Locale.ROOT), Suggest.closest(name, DTYPES));
        throw y.error(field.value(), field.path(), "unknown dtype '" + s + "'",
                (near != null ? "did you mean '" + near + "'? " : "") + "accepted: " + String.join(", ", DTYPES)
                        + " (optionally prefixed with 'torch.')");
    }

    private TokenizerSpec legacyTokenizer(Field field) {
        Where where = y.where(field.value(), field.path());
        if (field.value() instanceof ScalarNode s && (s.getValue().equals("union") || s.getValue().equals("base"))
                && s.getTag().equals(Tag.STR)) {
            return new TokenizerSpec(s.getValue(), null, Map.of(), null, true, where);
        }
        return new TokenizerSpec(null, modelRef(field.value(), field.path()), Map.of(), null, true, where);
    }

    private TokenizerSpec tokenizer(Field field) {
        Map<String, Field> f = y.fields(field.value(), field.path(), "tokenizer", TOKENIZER);
        Field src = f.get("source");
        String source = "union";
        ModelRef sourceModel = null;
        if (src != null && !YamlNodes.isNull(src.value())) {
            if (src.value() instanceof ScalarNode s && s.getTag().equals(Tag.STR)
                    && (s.getValue().equals("union") || s.getValue().equals("base"))) {
                source = s.getValue();
            } else {
                source = null;
                sourceModel = modelRef(src.value(), src.path());
            }
        }
        Map<String, TokenSpec> tokens = new LinkedHashMap<>();
        Field tf = f.get("tokens");
        if (tf != null && !YamlNodes.isNull(tf.value())) {
            for (Field t : y.fields(tf.value(), tf.path(), "tokenizer.tokens").values()) {
                tokens.put(t.key(), token(t));
            }
        }
        Field pad = f.get("pad_to_multiple_of");
        Integer padTo = pad == null ? null : y.integer(pad.value(), pad.path(), "pad_to_multiple_of");
        if (padTo != null && padTo <= 0) {
            throw y.error(pad.value(), pad.path(), "pad_to_multiple_of must be positive, not " + padTo, null);
        }
        return new TokenizerSpec(source, sourceModel, tokens, padTo, false, y.where(field.value(), field.path()));
    }

    private TokenSpec token(Field field) {
        Map<String, Field> f = y.fields(field.value(), field.path(), "token '" + field.key() + "'", TOKEN);
        Field forceField = f.get("force");
        Boolean force = forceField == null ? null : y.bool(forceField.value(), forceField.path(), "force");
        boolean forced = force != null && force;
        Where where = y.where(field.value(), field.path());
        Field src = f.get("source");
        if (src == null || YamlNodes.isNull(src.value())) {
            return new TokenSpec(null, null, null, null, forced, where);
        }
        if (!(src.value() instanceof MappingNode)) {
            return new TokenSpec("model", modelRef(src.value(), src.path()), null, null, forced, where);
        }
        Map<String, Field> s = y.fields(src.value(), src.path(), "a token source");
        Field kindField = s.get("kind");
        if (kindField == null) {
            y.warnUnknown(s, MODEL_REF);
            return new TokenSpec("model", modelRefMap(s, src.value(), src.path()), null, null, forced, where);
        }
        y.warnUnknown(s, MODEL_TOKEN);
        String kind = y.string(kindField.value(), kindField.path(), "kind");
        switch (kind == null ? "" : kind) {
            case "zero" -> {
                return new TokenSpec("zero", null, null, null, forced, where);
            }
            case "model_token" -> {
                ModelRef model = requiredModel(s, src.value(), src.path());
                Field id = s.get("token_id");
                Field text = s.get("token");
                Integer tokenId = id == null ? null : y.integer(id.value(), id.path(), "token_id");
                String token = text == null ? null : y.string(text.value(), text.path(), "token");
                if ((tokenId == null) == (token == null)) {
                    throw y.error(src.value(), src.path(), "a model_token source needs exactly one of 'token_id' and 'token'",
                            "write 'token_id: <number>' or 'token: \"<text>\"', not both");
                }
                if (tokenId != null && tokenId < 0) {
                    throw y.error(id.value(), id.path(), "token_id must not be negative", null);
                }
                return new TokenSpec("model_token", model, tokenId, token, forced, where);
            }
            default -> {
                String near = Suggest.closest(kind, List.of("model_token", "zero"));
                throw y.error(kindField.value(), kindField.path(), "unknown token source kind '" + kind + "'",
                        (near != null ? "did you mean '" + near + "'? " : "")
                                + "kinds: model_token, zero; or give a model reference instead of a mapping");
            }
        }
    }
}
