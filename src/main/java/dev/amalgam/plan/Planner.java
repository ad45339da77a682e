package dev.amalgam.plan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.DType;
import dev.amalgam.method.MergeContext;
import dev.amalgam.method.MergeMethod;
import dev.amalgam.method.Methods;
import dev.amalgam.method.ParamSpec;
import dev.amalgam.model.Architecture;
import dev.amalgam.model.Configs;
import dev.amalgam.model.ExpertLayout;
import dev.amalgam.model.LoraAdapter;
import dev.amalgam.model.Model;
import dev.amalgam.model.ModelLocator;
import dev.amalgam.model.TensorHandle;
import dev.amalgam.recipe.InputModel;
import dev.amalgam.recipe.InputSlice;
import dev.amalgam.recipe.ModelRef;
import dev.amalgam.recipe.OutputModule;
import dev.amalgam.recipe.OutputSlice;
import dev.amalgam.recipe.ParameterResolver;
import dev.amalgam.recipe.ParameterSet;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.recipe.Suggest;
import dev.amalgam.tokenizer.EmbeddingRows;
import dev.amalgam.tokenizer.HfTokenizer;
import dev.amalgam.tokenizer.RowMap;
import dev.amalgam.tokenizer.TokenizerPlan;
import dev.amalgam.tokenizer.TokenizerPlanner;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Turns a recipe and its models into a {@link Plan}. Plan stage: every check that can be made
 * without reading tensor data happens here — method and parameters, models present and
 * readable, layer ranges, shapes, dtypes, missing tensors — so a bad recipe fails before any
 * output is written.
 *
 * <p>The recipe's three forms are normalised as mergekit does: {@code models:} becomes one
 * slice over every layer of every model (the base model appended when not listed). Layers are
 * numbered by a running counter across slices; a layer's gradient position is
 * {@code idx/(L-1)} within its slice ({@code 1} for one-layer slices); pre-layer weights take
 * the first slice's models, post-layer weights the last slice's, both at position 0.
 *
 * <p>With {@code tokenizer_source} or {@code tokenizer:}, the output vocabulary is built first
 * ({@link TokenizerPlanner}) and every vocabulary matrix operand is re-indexed to it through a
 * {@link RowMap}; config.json gets the new {@code vocab_size} and special-token ids. Without
 * them, an output whose embedding rows are fewer than its tokenizer's tokens is refused.
 */
public final class Planner {

    private final Recipe recipe;
    private final PlanOptions options;
    private final MergeMethod method;
    private final Map<ModelRef, Model> models = new LinkedHashMap<>();
    private final Map<ModelRef, Architecture> archs = new LinkedHashMap<>();
    private final Map<ModelRef, Set<String>> used = new LinkedHashMap<>();
    private final List<String> warnings = new ArrayList<>();
    private static final int MAX_PROBLEMS = 20;
    private final List<AmalgamException> problems = new ArrayList<>();
    private final Set<String> problemKeys = new HashSet<>();
    private final DType recipeDtype;
    private final DType outDtype;
    private OutputModule module;
    private ModelLocator locator;
    private TokenizerPlan tokenizer;

    private Planner(Recipe recipe, PlanOptions options) {
        this.recipe = recipe;
        this.options = options;
        this.method = resolveMethod(recipe);
        this.recipeDtype = dtype(recipe.dtype(), recipe.dtypeWhere());
        this.outDtype = dtype(recipe.outDtype(), recipe.outDtypeWhere());
    }

    /** Plans a merge; the returned plan owns the opened models. */
    public static Plan plan(Recipe recipe, PlanOptions options) {
        Planner p = new Planner(recipe, options);
        try {
            return p.build();
        } catch (RuntimeException e) {
            p.models.values().forEach(Model::close);
            throw e;
        }
    }

    private static MergeMethod resolveMethod(Recipe recipe) {
        MergeMethod m = Methods.byName(recipe.mergeMethod());
        if (m == null) {
            String near = Suggest.closest(recipe.mergeMethod(), Methods.names());
            throw AmalgamException.recipe("unknown merge method '" + recipe.mergeMethod() + "'",
                    recipe.mergeMethodWhere(), near != null ? "did you mean '" + near + "'?"
                            : "known methods: " + String.join(", ", Methods.names()));
        }
        return m;
    }

    private static DType dtype(String name, Where where) {
        if (name == null) {
            return null;
        }
        DType d = DType.fromTorchName(name);
        if (d == null) {
            throw AmalgamException.recipe("unsupported dtype '" + name + "'", where,
                    "use bfloat16, float16 or float32");
        }
        return d;
    }

    private Plan build() {
        List<OutputSlice> slices;
        boolean modelsForm;
        List<InputModel> modelList;
        if (recipe.modules() != null) {
            if (recipe.modules().size() != 1 || !recipe.modules().containsKey("default")) {
                String name = recipe.modules().keySet().iterator().next();
                throw AmalgamException.recipe("modules other than 'default' are not supported: '" + name + "'",
                        recipe.modules().values().iterator().next().where(),
                        "for a single-stack model use 'default', or write the recipe with slices: or models:");
            }
            module = recipe.modules().get("default");
            modelList = module.models();
            slices = module.slices();
        } else {
            modelList = recipe.models();
            slices = recipe.slices();
        }
        modelsForm = modelList != null;
        ModelRef base = recipe.baseModel();
        if (method.baseRule() == MergeMethod.BaseRule.REQUIRED && base == null
                && (slices == null || slices.stream().anyMatch(s -> s.baseModel() == null))) {
            throw AmalgamException.recipe(method.name() + " needs a base_model", recipe.mergeMethodWhere(),
                    "add base_model: <one of the models> at the top level of the recipe");
        }
        openModels();
        if (modelsForm) {
            slices = List.of(sliceFromModels(modelList, base));
        }
        checkArchitectures();
        checkSlices(slices);

        ModelRef donor = base != null ? base : recipe.referencedModels().getFirst();
        tokenizer = TokenizerPlanner.plan(recipe, Collections.unmodifiableMap(models), vocabRows(), donor, locator,
                warnings);
        Architecture donorArch = archs.get(donor);
        List<OutputTensor> tensors = new ArrayList<>();
        OutputSlice first = slices.getFirst();
        OutputSlice last = slices.getLast();
        for (String name : union(first, Architecture::preWeights)) {
            collect(() -> planTensor(tensors, name, "pre", first, sources(first, name), 0.0));
        }
        int out = 0;
        String outPrefix = donorArch.layerPrefix();
        for (OutputSlice slice : slices) {
            int len = slice.sources().getFirst().end() - slice.sources().getFirst().start();
            for (int off = 0; off < len; off++) {
                double t = len > 1 ? (double) off / (len - 1) : 1.0;
                Set<String> suffixes = new TreeSet<>();
                for (InputSlice s : slice.sources()) {
                    suffixes.addAll(archs.get(s.model()).layerSuffixes(s.start() + off));
                }
                for (String suffix : suffixes) {
                    List<String> inputs = new ArrayList<>();
                    for (InputSlice s : slice.sources()) {
                        inputs.add(archs.get(s.model()).layerTensor(s.start() + off, suffix));
                    }
                    String name = outPrefix + "." + out + "." + suffix;
                    collect(() -> planTensor(tensors, name, "layer", slice, inputs, t));
                }
                out++;
            }
        }
        for (String name : union(last, Architecture::postWeights)) {
            collect(() -> planTensor(tensors, name, "post", last, sources(last, name), 0.0));
        }
        if (!problems.isEmpty()) {
            throw problems.getFirst().withMore(problems.subList(1, problems.size()));
        }
        for (String name : donorArch.extraWeights()) {
            planExtra(tensors, donor, name);
        }
        List<OutputTensor> ordered = new ArrayList<>(tensors);
        ordered.sort(Comparator.comparing(OutputTensor::orderKey));
        checkVocabRows(ordered, donor);
        List<Shard> shards = shard(ordered);
        ObjectNode config = outputConfig(donor, donorArch, out, modelsForm, ordered);
        return new Plan(recipe, method, Collections.unmodifiableMap(models), base, donor, List.copyOf(ordered),
                shards, config, out, unusedTensors(donor, ordered), List.copyOf(warnings), tokenizer);
    }

    /**
     * Runs one tensor's planning and keeps its problem instead of stopping, so that a plan reports
     * every problem at once — one per recipe location (a missing parameter is not repeated for
     * every tensor), at most {@value #MAX_PROBLEMS}.
     */
    private void collect(Runnable step) {
        try {
            step.run();
        } catch (AmalgamException e) {
            String key = e.where() + "|" + e.hint() + "|" + (e.where().tensor() == null ? "" : e.getMessage());
            if (problemKeys.add(key) && problems.size() < MAX_PROBLEMS) {
                problems.add(e);
            }
        }
    }

    private void openModels() {
        Path recipeDir = recipe.file() == null ? null : recipe.file().toAbsolutePath().getParent();
        locator = new ModelLocator(options.workDir(), recipeDir, options.hubCache());
        for (ModelRef ref : recipe.referencedModels()) {
            Where where = whereOf(ref);
            Path dir = locator.locate(ref.path(), ref.revision(), where);
            Model m = Model.open(dir, ref.toString());
            models.put(ref, m);
            if (ref.hasLora()) {
                Path adapter = locator.locate(ref.loraPath(), ref.loraRevision(), where);
                models.put(ref, LoraAdapter.apply(m, adapter, ref.loraPath(), options.loraMergeDtype(), warnings));
            }
            used.put(ref, new HashSet<>());
        }
        warnings.addAll(ExpertLayout.unify(models));
        models.forEach((ref, m) -> archs.put(ref, Architecture.infer(m)));
    }

    private Where whereOf(ModelRef ref) {
        if (ref.equals(recipe.baseModel())) {
            return recipe.baseModelWhere();
        }
        List<OutputSlice> slices = recipe.slices() != null ? recipe.slices()
                : recipe.modules() != null && recipe.modules().containsKey("default")
                ? recipe.modules().get("default").slices() : null;
        if (slices != null) {
            for (OutputSlice s : slices) {
                for (InputSlice src : s.sources()) {
                    if (src.model().equals(ref)) {
                        return src.where();
                    }
                }
            }
        }
        List<InputModel> list = recipe.models() != null ? recipe.models()
                : recipe.modules() != null && recipe.modules().containsKey("default")
                ? recipe.modules().get("default").models() : null;
        if (list != null) {
            for (InputModel m : list) {
                if (m.model().equals(ref)) {
                    return m.where();
                }
            }
        }
        return recipe.file() == null ? Where.NONE : Where.file(recipe.file());
    }

    private OutputSlice sliceFromModels(List<InputModel> list, ModelRef base) {
        List<InputSlice> sources = new ArrayList<>();
        boolean hasBase = false;
        for (InputModel m : list) {
            sources.add(new InputSlice(m.model(), 0, archs.get(m.model()).numLayers(), m.parameters(), m.where(),
                    m.where()));
            hasBase |= m.model().equals(base);
        }
        if (base != null && !hasBase) {
            sources.add(new InputSlice(base, 0, archs.get(base).numLayers(), ParameterSet.EMPTY,
                    recipe.baseModelWhere(), recipe.baseModelWhere()));
            if (method.baseRule() == MergeMethod.BaseRule.UNUSED) {
                warnings.add("base_model " + base + " is not among the models; it is merged as an extra input, "
                        + "as mergekit does");
            }
        }
        Where where = list.isEmpty() ? Where.NONE : list.getFirst().where();
        return new OutputSlice(sources, null, null, ParameterSet.EMPTY, where);
    }

    private void checkArchitectures() {
        Map.Entry<ModelRef, Model> first = models.entrySet().iterator().next();
        String arch = first.getValue().architectureName();
        String prefix = archs.get(first.getKey()).layerPrefix();
        for (Map.Entry<ModelRef, Model> e : models.entrySet()) {
            String a = e.getValue().architectureName();
            if (!options.allowCrimes() && a != null && arch != null && !a.equals(arch)) {
                throw AmalgamException.input("models of different architectures: " + first.getKey() + " is " + arch
                                + ", " + e.getKey() + " is " + a, whereOf(e.getKey()),
                        "pass --allow-crimes to merge them anyway");
            }
            String p = archs.get(e.getKey()).layerPrefix();
            if (p != null && prefix != null && !p.equals(prefix)) {
                throw AmalgamException.input("the models name their layers differently: '" + prefix + ".N' in "
                                + first.getKey() + ", '" + p + ".N' in " + e.getKey(), whereOf(e.getKey()),
                        "the models must share an architecture");
            }
        }
    }

    private void checkSlices(List<OutputSlice> slices) {
        for (int si = 0; si < slices.size(); si++) {
            OutputSlice s = slices.get(si);
            int len = -1;
            for (InputSlice src : s.sources()) {
                Architecture a = archs.get(src.model());
                int n = a.numLayers();
                if (src.start() < 0 || src.end() > n || src.start() >= src.end()) {
                    throw AmalgamException.recipe(String.format(Locale.ROOT,
                                    "layer_range [%d, %d] is outside %s, which has %d layers",
                                    src.start(), src.end(), src.model(), n), src.layerRangeWhere(),
                            String.format(Locale.ROOT, "use a range within [0, %d]; the end is exclusive", n));
                }
                int l = src.end() - src.start();
                if (len >= 0 && l != len) {
                    throw AmalgamException.recipe(String.format(Locale.ROOT,
                                    "the sources of slice %d span different numbers of layers (%d and %d)", si, len, l),
                            src.layerRangeWhere(), "every source of a slice must cover the same number of layers");
                }
                len = l;
            }
        }
    }

    private List<String> union(OutputSlice slice, java.util.function.Function<Architecture, List<String>> names) {
        Set<String> all = new TreeSet<>();
        for (InputSlice s : slice.sources()) {
            all.addAll(names.apply(archs.get(s.model())));
        }
        return List.copyOf(all);
    }

    private static List<String> sources(OutputSlice slice, String name) {
        return Collections.nCopies(slice.sources().size(), name);
    }

    private ModelRef baseOf(OutputSlice slice) {
        return slice.baseModel() != null ? slice.baseModel() : recipe.baseModel();
    }

    private void planTensor(List<OutputTensor> out, String name, String role, OutputSlice slice, List<String> inputs,
                            double t) {
        List<InputSlice> srcs = new ArrayList<>();
        List<TensorHandle> handles = new ArrayList<>();
        List<String> inputNames = new ArrayList<>();
        List<Integer> missing = new ArrayList<>();
        for (int k = 0; k < inputs.size(); k++) {
            InputSlice src = slice.sources().get(k);
            Model m = models.get(src.model());
            String in = inputs.get(k);
            TensorHandle h = m.tensor(in);
            if (h == null && Architecture.isOutputHead(in)) {
                String embed = archs.get(src.model()).embeddingMatrix();
                h = embed == null ? null : m.tensor(embed);
            }
            if (h == null) {
                missing.add(k);
                continue;
            }
            srcs.add(src);
            handles.add(h);
            inputNames.add(in);
        }
        if (!missing.isEmpty()) {
            if (handles.isEmpty() || Architecture.isOutputHead(name)) {
                return;
            }
            int k = missing.getFirst();
            ModelRef miss = slice.sources().get(k).model();
            throw new AmalgamException(AmalgamException.Kind.MISSING_TENSOR,
                    "tensor " + inputs.get(k) + " is missing from model " + miss
                            + " (other models in the slice have it)",
                    Where.tensor(models.get(miss).dir(), inputs.get(k)),
                    "the models of a slice must share an architecture and layer layout");
        }
        long[] shape = handles.getFirst().info().shape();
        boolean reindex = tokenizer != null && tokenizer.built() && Architecture.isVocabMatrix(name)
                && shape.length == 2;
        long cropRows = -1;
        long cropCols = -1;
        for (int k = 1; k < handles.size(); k++) {
            long[] s = handles.get(k).info().shape();
            if (reindex ? s.length != 2 || s[1] != shape[1] : !Arrays.equals(s, shape)) {
                if (!reindex && s.length == 2 && shape.length == 2 && Architecture.isVocabMatrix(name)) {
                    cropRows = cropRows < 0 ? Math.min(s[0], shape[0]) : Math.min(cropRows, s[0]);
                    cropCols = cropCols < 0 ? Math.min(s[1], shape[1]) : Math.min(cropCols, s[1]);
                } else {
                    throw new AmalgamException(AmalgamException.Kind.SHAPE, String.format(Locale.ROOT,
                            "tensor %s has shape %s in %s but %s in %s", name, handles.getFirst().info().shapeString(),
                            srcs.getFirst().model(), handles.get(k).info().shapeString(), srcs.get(k).model()),
                            Where.tensor(models.get(srcs.get(k).model()).dir(), inputNames.get(k)),
                            "the models must have the same architecture and sizes");
                }
            }
        }
        if (cropRows >= 0) {
            for (TensorHandle h : handles) {
                cropRows = Math.min(cropRows, h.info().shape()[0]);
                cropCols = Math.min(cropCols, h.info().shape()[1]);
            }
            warnings.add(String.format(Locale.ROOT, "%s: sizes differ between models; cropped to the common [%d, %d]",
                    name, cropRows, cropCols));
            shape = new long[]{cropRows, cropCols};
        }
        List<RowMap> rowMaps = null;
        if (reindex) {
            shape = new long[]{tokenizer.paddedSize(), shape[1]};
            rowMaps = EmbeddingRows.rowMaps(tokenizer, name, srcs.stream().map(InputSlice::model).toList(), handles);
        }
        ModelRef base = baseOf(slice);
        boolean allFloat = handles.stream().allMatch(h -> h.info().dtype().isFloatingPoint());
        if (!allFloat) {
            int keep = 0;
            for (int k = 0; k < srcs.size(); k++) {
                if (srcs.get(k).model().equals(base)) {
                    keep = k;
                }
            }
            TensorHandle h = handles.get(keep);
            Operand op = new Operand(srcs.get(keep).model(), inputNames.get(keep), h, -1);
            markUsed(op);
            MergeContext ctx = new MergeContext(name, h.info().shape(), h.info().dtype(), 0, Map.of(),
                    List.of(Map.of()), options.seed());
            out.add(new OutputTensor(name, h.info().shape(), h.info().dtype(), List.of(op), ctx, true, role,
                    h.name()));
            return;
        }
        DType work = recipeDtype != null ? recipeDtype : commonDtype(handles);
        int baseIndex = -1;
        for (int k = 0; k < srcs.size(); k++) {
            if (srcs.get(k).model().equals(base)) {
                baseIndex = k;
                break;
            }
        }
        String problem = method.checkOperands(srcs.size(), baseIndex);
        if (problem != null) {
            throw AmalgamException.recipe(problem + " (tensor " + name + ")", slice.where(), method.operandHint());
        }
        Map<String, Double> globals = new LinkedHashMap<>();
        for (ParamSpec p : method.globalParameters()) {
            Double v = ParameterResolver.global(p.name(), slice, module, recipe, name, t);
            if (v == null && p.required()) {
                throw AmalgamException.recipe("missing required parameter '" + p.name() + "' for tensor " + name,
                        recipe.mergeMethodWhere(), "add '" + p.name() + ":' under parameters (at the top level, in "
                                + "the slice, or with a filter that matches this tensor)");
            }
            globals.put(p.name(), v != null ? v : p.defaultValue());
        }
        List<Map<String, Double>> perModel = new ArrayList<>();
        for (int k = 0; k < srcs.size(); k++) {
            Map<String, Double> values = new LinkedHashMap<>();
            ModelRef ref = srcs.get(k).model();
            for (ParamSpec p : method.perModelParameters()) {
                Double v = ParameterResolver.perModel(p.name(), ref, slice, module, recipe, inputNames.get(k), t);
                if (v == null && p.required()
                        && (!ref.equals(base) || method.baseRule() == MergeMethod.BaseRule.UNUSED)) {
                    String extra = ref.equals(base) ? " (the base model is merged as an input by " + method.name()
                            + ")" : "";
                    throw AmalgamException.recipe("missing required parameter '" + p.name() + "' for model " + ref
                                    + extra + ", tensor " + inputNames.get(k), srcs.get(k).where(),
                            "add '" + p.name() + ":' under this model's parameters, or once under the top-level "
                                    + "parameters");
                }
                values.put(p.name(), v != null ? v : p.defaultValue());
            }
            perModel.add(Collections.unmodifiableMap(values));
        }
        MergeContext ctx = new MergeContext(name, shape, work, baseIndex, Collections.unmodifiableMap(globals),
                List.copyOf(perModel), options.seed());
        String bad = method.checkParameters(ctx);
        if (bad != null) {
            throw AmalgamException.recipe(bad + " (tensor " + name + ")", paramWhere(slice, srcs), null);
        }
        DType dt = outDtype != null ? outDtype : method.resultDtype(work);
        List<Operand> ops = new ArrayList<>();
        String orderKey = "";
        for (int k = 0; k < srcs.size(); k++) {
            TensorHandle h = handles.get(k);
            long cc = cropRows >= 0 && h.info().shape()[1] != shape[1] ? shape[1] : -1;
            Operand op = new Operand(srcs.get(k).model(), inputNames.get(k), h, cc,
                    rowMaps == null ? null : rowMaps.get(k));
            ops.add(op);
            markUsed(op);
            if (h.name().compareTo(orderKey) > 0) {
                orderKey = h.name();
            }
        }
        DType stored = handles.getFirst().info().dtype();
        boolean copy = ops.size() == 1 && !ops.getFirst().cropped() && cropRows < 0 && !reindex
                && method.isIdentity(ctx)
                && stored == dt && (work == stored || work == DType.F32 || work == DType.F64);
        out.add(new OutputTensor(name, shape, dt, List.copyOf(ops), ctx, copy, role, orderKey));
    }

    private Where paramWhere(OutputSlice slice, List<InputSlice> srcs) {
        Where w = ParameterResolver.whereOf("weight", srcs.getFirst().model(), slice, module, recipe);
        return w != null ? w : recipe.mergeMethodWhere();
    }

    private void planExtra(List<OutputTensor> out, ModelRef donor, String name) {
        TensorHandle h = models.get(donor).tensor(name);
        Operand op = new Operand(donor, name, h, -1);
        markUsed(op);
        DType dt = h.info().dtype();
        MergeContext ctx = new MergeContext(name, h.info().shape(), dt, 0, Map.of(), List.of(Map.of()),
                options.seed());
        out.add(new OutputTensor(name, h.info().shape(), dt, List.of(op), ctx, true, "extra", name));
    }

    private void markUsed(Operand op) {
        used.get(op.model()).add(op.tensor().name());
    }

    private static DType commonDtype(List<TensorHandle> handles) {
        DType d = handles.getFirst().info().dtype();
        for (TensorHandle h : handles) {
            if (h.info().dtype() != d) {
                return DType.F32;
            }
        }
        return d;
    }

    private List<Shard> shard(List<OutputTensor> ordered) {
        List<List<OutputTensor>> groups = new ArrayList<>();
        List<OutputTensor> current = new ArrayList<>();
        long bytes = 0;
        long limit = options.outShardSize();
        for (OutputTensor t : ordered) {
            if (!current.isEmpty() && limit > 0 && bytes + t.byteSize() > limit) {
                groups.add(current);
                current = new ArrayList<>();
                bytes = 0;
            }
            current.add(t);
            bytes += t.byteSize();
        }
        if (!current.isEmpty()) {
            groups.add(current);
        }
        List<Shard> shards = new ArrayList<>();
        for (int i = 0; i < groups.size(); i++) {
            String name = groups.size() == 1 ? "model.safetensors"
                    : String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, groups.size());
            shards.add(new Shard(name, List.copyOf(groups.get(i))));
        }
        return List.copyOf(shards);
    }

    private ObjectNode outputConfig(ModelRef donor, Architecture arch, int layers, boolean modelsForm,
                                    List<OutputTensor> tensors) {
        ObjectNode cfg = models.get(donor).config().deepCopy();
        if (!modelsForm && arch.layerCountKey() != null) {
            Configs.setInt(cfg, arch.layerCountKey(), layers);
        }
        String dt = recipe.outDtype() != null ? recipe.outDtype() : recipe.dtype();
        if (dt == null) {
            dt = majorityDtype(tensors);
        }
        if (dt != null) {
            cfg.put("dtype", dt);
            if (cfg.has("torch_dtype")) {
                cfg.put("torch_dtype", dt);
            }
        }
        if (tokenizer != null) {
            tokenizer.updateConfig(cfg, true, warnings);
        }
        JsonNode tie = cfg.get("tie_word_embeddings");
        boolean hasHead = tensors.stream().anyMatch(t -> Architecture.isOutputHead(t.name()));
        if (hasHead && tie != null && tie.asBoolean(false)) {
            cfg.put("tie_word_embeddings", false);
            warnings.add("the output has its own lm_head (some inputs do not tie embeddings), so config.json's "
                    + "tie_word_embeddings is set to false");
        }
        return cfg;
    }

    /** Per model, the rows of its smallest vocabulary matrix (for token_id checks). */
    private Map<ModelRef, Long> vocabRows() {
        Map<ModelRef, Long> rows = new LinkedHashMap<>();
        models.forEach((ref, m) -> m.tensors().forEach((n, h) -> {
            if (Architecture.isVocabMatrix(n) && h.info().shape().length == 2) {
                rows.merge(ref, h.info().shape()[0], Math::min);
            }
        }));
        return rows;
    }

    /**
     * Refuses an output whose tokenizer has more tokens than its vocabulary matrices have rows
     * (more rows are padding, and fine).
     */
    private void checkVocabRows(List<OutputTensor> tensors, ModelRef donor) {
        long rows = Long.MAX_VALUE;
        String tensor = null;
        for (OutputTensor t : tensors) {
            if (Architecture.isVocabMatrix(t.name()) && t.shape().length == 2 && t.shape()[0] < rows) {
                rows = t.shape()[0];
                tensor = t.name();
            }
        }
        if (tensor == null) {
            return;
        }
        HfTokenizer tok;
        if (tokenizer != null) {
            tok = tokenizer.output();
        } else {
            try {
                tok = HfTokenizer.read(models.get(donor).dir(), donor.toString());
            } catch (AmalgamException e) {
                warnings.add("cannot read the tokenizer of " + donor + " to check it against the embeddings: "
                        + e.getMessage());
                return;
            }
        }
        if (tok != null && tok.size() > rows) {
            throw AmalgamException.input(String.format(Locale.ROOT, "the output tokenizer (%s's) has %d tokens, but "
                            + "%s has only %d rows", tok.owner(), tok.size(), tensor, rows), whereOf(donor),
                    "the models' vocabularies differ: add 'tokenizer_source: union' (or 'base') so that the "
                            + "tokenizer and the embeddings are merged together");
        }
    }

    /** The dtype holding most of the output's bytes, as a torch name. */
    private static String majorityDtype(List<OutputTensor> tensors) {
        Map<DType, Long> bytes = new LinkedHashMap<>();
        for (OutputTensor t : tensors) {
            if (t.dtype().isFloatingPoint()) {
                bytes.merge(t.dtype(), t.byteSize(), Long::sum);
            }
        }
        return bytes.entrySet().stream().max(Map.Entry.comparingByValue()).map(e -> e.getKey().torchName())
                .orElse(null);
    }

    /**
     * Per model, every input tensor no output tensor reads, with the reason (in stored names: a
     * fused view's tensor stands for the per-expert tensors it is read from). A tensor of the donor
     * (the base model) that is neither read, nor in an unselected layer, nor replaced by an output
     * tensor of the same name is an error: the output would silently lose it.
     */
    private Map<ModelRef, List<String>> unusedTensors(ModelRef donor, List<OutputTensor> outputs) {
        Map<String, OutputTensor> byName = new HashMap<>();
        outputs.forEach(t -> byName.put(t.name(), t));
        Map<ModelRef, List<String>> result = new LinkedHashMap<>();
        for (Map.Entry<ModelRef, Model> e : models.entrySet()) {
            Set<String> u = used.get(e.getKey());
            List<String> rest = new ArrayList<>();
            List<String> dropped = new ArrayList<>();
            Architecture a = archs.get(e.getKey());
            Set<String> extra = new HashSet<>(a.extraWeights());
            for (String n : e.getValue().tensors().keySet()) {
                if (u.contains(n)) {
                    continue;
                }
                String why;
                if (a.layerPrefix() != null && n.startsWith(a.layerPrefix() + ".")) {
                    why = "layer not selected by any layer_range";
                } else if (extra.contains(n) && !e.getKey().equals(donor)) {
                    why = "not merged: the output carries this module from " + donor;
                } else if (byName.containsKey(n) && !byName.get(n).dtype().isFloatingPoint()) {
                    why = "not merged: integer tensors are taken from one model, here "
                            + byName.get(n).operands().getFirst().model();
                } else if (byName.containsKey(n)) {
                    why = "the output's " + n + " comes from other models of the recipe";
                } else {
                    why = "not part of the output";
                    dropped.add(n);
                }
                for (String stored : e.getValue().storedNames(n)) {
                    rest.add(stored + " (" + why + ")");
                }
            }
            if (!dropped.isEmpty() && e.getKey().equals(donor)) {
                throw new AmalgamException(AmalgamException.Kind.MISSING_TENSOR, dropped.size() + " tensor(s) of "
                        + donor + " would be missing from the output, e.g. " + dropped.getFirst(),
                        Where.tensor(e.getValue().dir(), dropped.getFirst()),
                        "pre-layer tensors come from the first slice's models and post-layer ones from the last "
                                + "slice's; include " + donor + " there (if it is, report this as a bug)");
            }
            if (!dropped.isEmpty()) {
                warnings.add(e.getKey() + ": " + dropped.size() + " tensor(s) outside the layer stack are not in "
                        + "the output: " + dropped.subList(0, Math.min(5, dropped.size())));
            }
            result.put(e.getKey(), List.copyOf(rest));
        }
        return Collections.unmodifiableMap(result);
    }
}
