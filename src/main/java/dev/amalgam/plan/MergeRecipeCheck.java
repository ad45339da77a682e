package dev.amalgam.plan;

import dev.amalgam.error.Where;
import dev.amalgam.io.DType;
import dev.amalgam.method.MergeContext;
import dev.amalgam.method.MergeMethod;
import dev.amalgam.method.Methods;
import dev.amalgam.method.ParamSpec;
import dev.amalgam.recipe.InputModel;
import dev.amalgam.recipe.InputSlice;
import dev.amalgam.recipe.ModelRef;
import dev.amalgam.recipe.OutputModule;
import dev.amalgam.recipe.OutputSlice;
import dev.amalgam.recipe.ParameterResolver;
import dev.amalgam.recipe.ParameterSet;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.recipe.RecipeWarning;
import dev.amalgam.recipe.Setting;
import dev.amalgam.recipe.Suggest;
import dev.amalgam.tokenizer.ChatTemplates;
import dev.amalgam.recipe.TokenSpec;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The model-free half of planning for one parsed merge recipe: method and base model, operand
 * counts, layer ranges, required parameters and their ranges, tokenizer references, dtypes and
 * chat template. Plan stage; {@link RecipeCheck} runs one per merge document.
 *
 * <p>Tensor names are not known without a model, so parameters are resolved, filters matched and
 * {@link MergeMethod#checkParameters} called on Llama-style representative tensors (embeddings,
 * each projection and norm of a layer, final norm, lm_head). In the {@code slices:} form every
 * layer position of every slice is probed exactly; in the {@code models:} form, whose layer count
 * is unknown, positions 0 and 1 are probed (errors) and so are the interior knots of every
 * gradient (warnings: whether a layer falls there depends on the layer count).
 */
final class MergeRecipeCheck {

    /** Every merge method mergekit registers (recipe-and-io §1.9). */
    static final List<String> MERGEKIT_METHODS = List.of("linear", "slerp", "nuslerp", "passthrough", "model_stock",
            "arcee_fusion", "karcher", "task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs",
            "breadcrumbs_ties", "della", "della_linear", "multislerp", "nearswap", "sce", "ram", "ramplus_tl");
    private static final List<String> TOKENIZER_KEYS = List.of("tokens", "pad_to_multiple_of");
    private static final List<String> PRE = List.of("model.embed_tokens.weight");
    private static final List<String> POST = List.of("model.norm.weight", "lm_head.weight");
    private static final List<String> LAYER = List.of("self_attn.q_proj.weight", "self_attn.k_proj.weight",
            "self_attn.v_proj.weight", "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
            "mlp.down_proj.weight", "input_layernorm.weight", "post_attention_layernorm.weight");
    /** Layers assumed in the {@code models:} form when a filter names a layer index. */
    private static final int NOMINAL_LAYERS = 32;
    private static final Pattern INPUT = Pattern.compile("\\binput (\\d+)\\b");
    private static final Pattern UNKNOWN_KEY = Pattern.compile("unknown key '(.+)'");

    /**
     * One output slice as the planner will see it, with its distinct models in recipe order.
     *
     * @param slice    the slice, or one built from a {@code models:} list as the planner builds it
     * @param models   true for the {@code models:} form (layer count unknown)
     * @param entries  where each model is written
     * @param appended true when {@code base_model} is not listed and joins as an extra input
     */
    private record Unit(OutputModule module, OutputSlice slice, boolean models, List<ModelRef> operands,
                        ModelRef base, int baseIndex, Map<ModelRef, Where> entries, boolean appended, Where where,
                        boolean first, boolean last, int outStart) {
    }

    private record Probe(String out, String[] in, double t, boolean exact, long[] shape) {
    }

    private enum Presence {
        ABSENT, FILTERED, PRESENT
    }

    private final Recipe recipe;
    private final List<Problem> out;
    private final Set<String> reported = new HashSet<>();
    private MergeMethod method;

    private MergeRecipeCheck(Recipe recipe, List<Problem> out) {
        this.recipe = recipe;
        this.out = out;
    }

    /** Adds every problem of {@code recipe} (its parse warnings included) to {@code out}. */
    static void run(Recipe recipe, List<Problem> out) {
        new MergeRecipeCheck(recipe, out).run();
    }

    private void run() {
        method = resolveMethod();
        recipe.warnings().forEach(w -> out.add(adjust(w)));
        dtypes();
        chatTemplate();
        tokens();
        List<Unit> units = units();
        units.forEach(this::layerCounts);
        if (method == null) {
            return;
        }
        parameterNames();
        boolean baseMissing = method.baseRule() == MergeMethod.BaseRule.REQUIRED
                && units.stream().anyMatch(u -> u.base() == null);
        if (baseMissing) {
            out.add(Problem.error(method.name() + " needs a base_model", recipe.mergeMethodWhere(),
                    "add 'base_model: <one of the models>' at the top level of the recipe"));
        }
        required(units);
        for (Unit u : units) {
            if (u.appended() && method.baseRule() == MergeMethod.BaseRule.UNUSED) {
                once(Problem.warning("base_model " + u.base() + " is not among the models, so " + method.name()
                                + " merges it as one more input, as mergekit does", recipe.baseModelWhere(),
                        "list it under 'models:' with its parameters, or remove base_model"));
            }
            if (baseMissing && u.base() == null) {
                continue;
            }
            String problem = method.checkOperands(u.operands().size(), u.baseIndex());
            if (problem != null) {
                out.add(Problem.error(problem, u.where(), method.operandHint()));
            } else if (equalLayers(u.slice())) {
                ranges(u);
            }
        }
    }

    private MergeMethod resolveMethod() {
        String name = recipe.mergeMethod();
        MergeMethod m = Methods.byName(name);
        if (m == null && MERGEKIT_METHODS.contains(name)) {
            out.add(Problem.warning("Amalgam does not implement merge method '" + name + "' yet",
                    recipe.mergeMethodWhere(), "mergekit accepts this recipe; 'amalgam merge' refuses it, and only"
                            + " its structure is checked here"));
        } else if (m == null) {
            Set<String> known = new TreeSet<>(MERGEKIT_METHODS);
            known.addAll(Methods.names());
            String near = Suggest.closest(name, known);
            out.add(Problem.error("unknown merge method '" + name + "'", recipe.mergeMethodWhere(), near != null
                    ? "did you mean '" + near + "'?" : "known methods: " + String.join(", ", known)));
        }
        return m;
    }

    /** A parser warning about an unknown key that names a merge parameter gets a hint saying where it goes. */
    private Problem adjust(RecipeWarning w) {
        Matcher m = UNKNOWN_KEY.matcher(w.message());
        if (m.matches() && TOKENIZER_KEYS.contains(m.group(1)) && m.group(1).equals(w.where().keyPath())) {
            return Problem.warning(w.message(), w.where(), "'" + m.group(1) + "' is a key of the 'tokenizer:' block;"
                    + " mergekit ignores it here");
        }
        if (m.matches() && parameterNames(method).contains(m.group(1))) {
            String key = m.group(1);
            String path = w.where().keyPath();
            String owner = path != null && path.contains(".") ? "this entry's" : "the top-level";
            return Problem.warning(w.message(), w.where(), "'" + key + "' is a parameter" + (method == null ? ""
                    : " of " + method.name()) + "; mergekit ignores it here: move it under " + owner
                    + " 'parameters:', indented below it");
        }
        return Problem.of(w);
    }

    private static Set<String> parameterNames(MergeMethod m) {
        if (m == null) {
            return Methods.all().stream().flatMap(x -> Stream.concat(x.globalParameters().stream(),
                    x.perModelParameters().stream())).map(ParamSpec::name).collect(Collectors.toSet());
        }
        return Stream.concat(m.globalParameters().stream(), m.perModelParameters().stream()).map(ParamSpec::name)
                .collect(Collectors.toCollection(LinkedHashSet::new));
    }

    private void dtypes() {
        if ("int64".equals(recipe.dtype())) {
            out.add(Problem.warning("dtype int64 casts every weight to whole numbers before merging",
                    recipe.dtypeWhere(), "use bfloat16, float16 or float32"));
        }
        if ("int64".equals(recipe.outDtype())) {
            out.add(Problem.warning("out_dtype int64 writes every weight as whole numbers", recipe.outDtypeWhere(),
                    "use bfloat16, float16 or float32"));
        }
    }

    /** mergekit's rule: "auto", a built-in name, or a literal template of 20 or more characters with a '{'. */
    private void chatTemplate() {
        String t = recipe.chatTemplate();
        List<String> names = ChatTemplates.names();
        if (t == null || t.equals("auto") || names.contains(t) || (t.length() >= 20 && t.contains("{"))) {
            return;
        }
        String near = Suggest.closest(t, names);
        out.add(Problem.error("chat_template '" + t + "' is neither 'auto', a built-in template nor a Jinja template",
                recipe.chatTemplateWhere(), (near != null ? "did you mean '" + near + "'? " : "")
                        + "built-in templates: " + String.join(", ", names)));
    }

    private void tokens() {
        if (recipe.tokenizer() == null) {
            return;
        }
        List<ModelRef> merged = recipe.referencedModels();
        for (Map.Entry<String, TokenSpec> e : recipe.tokenizer().tokens().entrySet()) {
            ModelRef m = e.getValue().model();
            if (m != null && !merged.contains(m)) {
                String near = Suggest.closest(m.toString(), merged.stream().map(ModelRef::toString).toList());
                out.add(Problem.error("token '" + e.getKey() + "' takes its embedding from " + m
                                + ", which is not one of the models merged", e.getValue().where(),
                        (near != null ? "did you mean '" + near + "'? " : "")
                                + "mergekit copies embeddings only from models in the merge"));
            }
        }
    }

    private List<Unit> units() {
        List<Unit> units = new ArrayList<>();
        if (recipe.models() != null) {
            units.add(modelsUnit(null, recipe.models()));
        } else if (recipe.slices() != null) {
            sliceUnits(null, recipe.slices(), units);
        } else {
            for (OutputModule m : recipe.modules().values()) {
                if (m.models() != null) {
                    units.add(modelsUnit(m, m.models()));
                } else {
                    sliceUnits(m, m.slices(), units);
                }
            }
        }
        return units;
    }

    private Unit modelsUnit(OutputModule module, List<InputModel> list) {
        ModelRef base = recipe.baseModel();
        List<InputSlice> sources = new ArrayList<>();
        Map<ModelRef, Where> entries = new LinkedHashMap<>();
        for (InputModel m : list) {
            sources.add(new InputSlice(m.model(), 0, 1, m.parameters(), m.where(), m.where()));
            entries.putIfAbsent(m.model(), m.where());
        }
        boolean appended = base != null && !entries.containsKey(base);
        if (appended) {
            sources.add(new InputSlice(base, 0, 1, ParameterSet.EMPTY, recipe.baseModelWhere(), recipe.baseModelWhere()));
            entries.put(base, recipe.baseModelWhere());
        }
        Where where = list.getFirst().where();
        OutputSlice slice = new OutputSlice(sources, null, null, ParameterSet.EMPTY, where);
        List<ModelRef> operands = List.copyOf(entries.keySet());
        return new Unit(module, slice, true, operands, base, base == null ? -1 : operands.indexOf(base), entries,
                appended, where, true, true, 0);
    }

    private void sliceUnits(OutputModule module, List<OutputSlice> slices, List<Unit> units) {
        int outStart = 0;
        for (int i = 0; i < slices.size(); i++) {
            OutputSlice s = slices.get(i);
            Map<ModelRef, Where> entries = new LinkedHashMap<>();
            s.sources().forEach(src -> entries.putIfAbsent(src.model(), src.where()));
            ModelRef base = s.baseModel() != null ? s.baseModel() : recipe.baseModel();
            List<ModelRef> operands = List.copyOf(entries.keySet());
            units.add(new Unit(module, s, false, operands, base, base == null ? -1 : operands.indexOf(base), entries,
                    false, s.where(), i == 0, i == slices.size() - 1, outStart));
            outStart += s.sources().getFirst().layerCount();
        }
    }

    private void layerCounts(Unit u) {
        if (u.models()) {
            return;
        }
        int first = u.slice().sources().getFirst().layerCount();
        for (InputSlice src : u.slice().sources()) {
            if (src.layerCount() != first) {
                out.add(Problem.error(String.format(Locale.ROOT, "the sources of this slice span different numbers"
                                + " of layers (%d and %d)", first, src.layerCount()), src.layerRangeWhere(),
                        "every source of a slice must cover as many layers as the first; mergekit stops with"
                                + " \"All inputs to a slice must contain the same number of layers\""));
            }
        }
    }

    private static boolean equalLayers(OutputSlice s) {
        return s.sources().stream().mapToInt(InputSlice::layerCount).distinct().count() == 1;
    }

    /** Names under any {@code parameters:} that the method does not read, or reads from another level. */
    private void parameterNames() {
        Set<String> globals = method.globalParameters().stream().map(ParamSpec::name).collect(Collectors.toSet());
        Set<String> declared = parameterNames(method);
        List<ParameterSet> perModelLevels = new ArrayList<>();
        List<ParameterSet> sharedLevels = new ArrayList<>(List.of(recipe.parameters()));
        collect(recipe.models(), recipe.slices(), perModelLevels, sharedLevels);
        if (recipe.modules() != null) {
            for (OutputModule m : recipe.modules().values()) {
                sharedLevels.add(m.parameters());
                collect(m.models(), m.slices(), perModelLevels, sharedLevels);
            }
        }
        for (ParameterSet level : sharedLevels) {
            level.settings().forEach((name, s) -> unused(name, s, declared));
        }
        for (ParameterSet level : perModelLevels) {
            level.settings().forEach((name, s) -> {
                if (globals.contains(name)) {
                    once(Problem.warning("'" + name + "' is a global parameter of " + method.name()
                                    + ", which mergekit never reads from a model's parameters", s.where(),
                            "move it to the top-level 'parameters:' (or a slice's)"));
                } else {
                    unused(name, s, declared);
                }
            });
        }
    }

    private static void collect(List<InputModel> models, List<OutputSlice> slices, List<ParameterSet> perModel,
                                List<ParameterSet> shared) {
        if (models != null) {
            models.forEach(m -> perModel.add(m.parameters()));
        }
        if (slices != null) {
            for (OutputSlice s : slices) {
                shared.add(s.parameters());
                s.sources().forEach(src -> perModel.add(src.parameters()));
            }
        }
    }

    private void unused(String name, Setting s, Set<String> declared) {
        if (declared.contains(name)) {
            return;
        }
        String near = Suggest.closest(name, declared);
        once(Problem.warning("parameter '" + name + "' is not used by " + method.name(), s.where(),
                near != null ? "did you mean '" + near + "'?" : declared.isEmpty()
                        ? method.name() + " takes no parameters; mergekit ignores it"
                        : method.name() + " reads " + String.join(", ", declared) + "; mergekit ignores the rest"));
    }

    /** Required parameters present at some level, for every unit and every model that needs them. */
    private void required(List<Unit> units) {
        for (ParamSpec p : method.globalParameters()) {
            if (!p.required()) {
                continue;
            }
            List<Unit> absent = units.stream().filter(u -> presence(p.name(), null, u) == Presence.ABSENT).toList();
            if (absent.size() == units.size()) {
                out.add(Problem.error("missing required parameter '" + p.name() + "'", recipe.mergeMethodWhere(),
                        "add '" + p.name() + ":' under the top-level 'parameters:'" + misplaced(p.name())));
            } else {
                absent.forEach(u -> out.add(Problem.error("missing required parameter '" + p.name()
                        + "' for this slice", u.where(), "add '" + p.name() + ":' under the slice's or the top-level"
                        + " 'parameters:'")));
            }
            for (Unit u : units) {
                if (presence(p.name(), null, u) == Presence.FILTERED) {
                    filtered(p.name(), null, u);
                }
            }
        }
        for (ParamSpec p : method.perModelParameters()) {
            if (!p.required()) {
                continue;
            }
            for (Unit u : units) {
                for (ModelRef m : u.operands()) {
                    if (m.equals(u.base()) && method.baseRule() != MergeMethod.BaseRule.UNUSED) {
                        continue;
                    }
                    Presence pr = presence(p.name(), m, u);
                    if (pr == Presence.ABSENT && reported.add("absent " + p.name() + " " + m)) {
                        String extra = m.equals(u.base()) ? " (the base model, which " + method.name()
                                + " merges like any other input)" : "";
                        out.add(Problem.error("missing required parameter '" + p.name() + "' for model " + m + extra,
                                u.entries().get(m), "add '" + p.name() + ":' under this model's 'parameters:', or once"
                                        + " under the top-level 'parameters:'"));
                    } else if (pr == Presence.FILTERED) {
                        filtered(p.name(), m, u);
                    }
                }
            }
        }
    }

    private String misplaced(String name) {
        List<InputModel> models = recipe.models() != null ? recipe.models() : List.of();
        boolean atModel = models.stream().anyMatch(m -> m.parameters().has(name))
                || (recipe.slices() != null && recipe.slices().stream()
                .anyMatch(s -> s.sources().stream().anyMatch(src -> src.parameters().has(name))));
        return atModel ? "; mergekit does not read it from a model's parameters" : "";
    }

    private List<ParameterSet> levels(String name, ModelRef model, Unit u) {
        List<ParameterSet> levels = new ArrayList<>();
        if (model != null) {
            u.slice().sources().stream().filter(s -> s.model().equals(model)).findFirst()
                    .ifPresent(s -> levels.add(s.parameters()));
        }
        levels.add(u.slice().parameters());
        if (u.module() != null) {
            levels.add(u.module().parameters());
        }
        levels.add(recipe.parameters());
        return levels.stream().filter(l -> l.has(name)).toList();
    }

    private Presence presence(String name, ModelRef model, Unit u) {
        List<ParameterSet> levels = levels(name, model, u);
        for (ParameterSet level : levels) {
            if (!(level.get(name) instanceof Setting.Conditionals c)
                    || c.entries().stream().anyMatch(e -> e.matches(null))) {
                return Presence.PRESENT;
            }
        }
        return levels.isEmpty() ? Presence.ABSENT : Presence.FILTERED;
    }

    /** Warns when a required parameter given only through filters matches none of some representative tensor. */
    private void filtered(String name, ModelRef model, Unit u) {
        for (String tensor : representative()) {
            Double v = model == null ? ParameterResolver.global(name, u.slice(), u.module(), recipe, tensor, 0.0)
                    : ParameterResolver.perModel(name, model, u.slice(), u.module(), recipe, tensor, 0.0);
            if (v == null) {
                List<ParameterSet> levels = levels(name, model, u);
                String filters = levels.stream().map(l -> (Setting.Conditionals) l.get(name))
                        .flatMap(c -> c.entries().stream()).map(e -> "'" + e.filter() + "'").distinct()
                        .collect(Collectors.joining(", "));
                once(Problem.warning("parameter '" + name + "'" + (model == null ? "" : " of model " + model)
                                + " is set only for tensors whose names contain " + filters + "; others, such as "
                                + tensor + ", get no value", levels.getFirst().get(name).where(),
                        "add a last entry without a filter ('- value: ...') as a default; otherwise mergekit stops"
                                + " with \"Missing required parameter\" at the first tensor no filter matches"));
                return;
            }
        }
    }

    private static List<String> representative() {
        List<String> names = new ArrayList<>(PRE);
        LAYER.forEach(s -> names.add("model.layers.0." + s));
        names.addAll(POST);
        return names;
    }

    /** Parameter values in range, through the method's own check, on representative tensors. */
    private void ranges(Unit u) {
        DType work = recipe.dtype() == null || recipe.dtype().equals("int64") ? DType.F32
                : DType.fromTorchName(recipe.dtype());
        Set<String> seen = new HashSet<>();
        for (Probe p : probes(u)) {
            MergeContext ctx = context(u, p, work == null ? DType.F32 : work);
            if (ctx == null) {
                continue;
            }
            String message = method.checkParameters(ctx);
            if (message == null) {
                continue;
            }
            String param = namedParameter(message);
            if (!seen.add(param == null ? message : param)) {
                continue;
            }
            Where where = parameterWhere(param, message, u);
            String text = message + " (tensor " + p.out() + ")";
            out.add(p.exact() ? Problem.error(text, where, null) : Problem.warning(text, where,
                    "whether a layer takes this value depends on the models' layer count"));
        }
    }

    private List<Probe> probes(Unit u) {
        List<Probe> probes = new ArrayList<>();
        int n = u.operands().size();
        if (u.first()) {
            PRE.forEach(name -> probes.add(uniform(name, n, 0.0, true)));
        }
        if (u.models()) {
            for (double t : positions()) {
                int layer = (int) Math.round(t * (NOMINAL_LAYERS - 1));
                LAYER.forEach(s -> probes.add(uniform("model.layers." + layer + "." + s, n, t, t == 0.0 || t == 1.0)));
            }
        } else {
            int len = u.slice().sources().getFirst().layerCount();
            int[] starts = u.operands().stream().mapToInt(m -> u.slice().sources().stream()
                    .filter(s -> s.model().equals(m)).findFirst().orElseThrow().start()).toArray();
            for (int off = 0; off < len; off++) {
                double t = len > 1 ? (double) off / (len - 1) : 1.0;
                for (String s : LAYER) {
                    String[] in = new String[n];
                    for (int k = 0; k < n; k++) {
                        in[k] = "model.layers." + (starts[k] + off) + "." + s;
                    }
                    probes.add(new Probe("model.layers." + (u.outStart() + off) + "." + s, in, t, true, shape(s)));
                }
            }
        }
        if (u.last()) {
            POST.forEach(name -> probes.add(uniform(name, n, 0.0, true)));
        }
        return probes;
    }

    private static Probe uniform(String name, int operands, double t, boolean exact) {
        String[] in = new String[operands];
        Arrays.fill(in, name);
        return new Probe(name, in, t, exact, shape(name));
    }

    private static long[] shape(String name) {
        return name.contains("norm") ? new long[] {8} : new long[] {8, 8};
    }

    /** 0, 1 and the interior knots of every gradient written in the recipe. */
    private Set<Double> positions() {
        Set<Double> ts = new TreeSet<>(List.of(0.0, 1.0));
        List<ParameterSet> all = new ArrayList<>(List.of(recipe.parameters()));
        collect(recipe.models(), recipe.slices(), all, all);
        if (recipe.modules() != null) {
            for (OutputModule m : recipe.modules().values()) {
                all.add(m.parameters());
                collect(m.models(), m.slices(), all, all);
            }
        }
        for (ParameterSet level : all) {
            for (Setting s : level.settings().values()) {
                List<Setting> values = s instanceof Setting.Conditionals c
                        ? c.entries().stream().map(Setting.Conditional::value).toList() : List.of(s);
                for (Setting v : values) {
                    if (v instanceof Setting.Gradient g) {
                        int k = g.knots().length;
                        for (int i = 1; i < k - 1; i++) {
                            ts.add((double) i / (k - 1));
                        }
                    }
                }
            }
        }
        return ts;
    }

    /** The resolved parameters of one probe, or null when a required one is missing there. */
    private MergeContext context(Unit u, Probe p, DType work) {
        Map<String, Double> globals = new LinkedHashMap<>();
        for (ParamSpec spec : method.globalParameters()) {
            Double v = ParameterResolver.global(spec.name(), u.slice(), u.module(), recipe, p.out(), p.t());
            if (v == null && spec.required()) {
                return null;
            }
            globals.put(spec.name(), v != null ? v : spec.defaultValue());
        }
        List<Map<String, Double>> perModel = new ArrayList<>();
        for (int k = 0; k < u.operands().size(); k++) {
            ModelRef m = u.operands().get(k);
            boolean exempt = m.equals(u.base()) && method.baseRule() != MergeMethod.BaseRule.UNUSED;
            Map<String, Double> values = new LinkedHashMap<>();
            for (ParamSpec spec : method.perModelParameters()) {
                Double v = ParameterResolver.perModel(spec.name(), m, u.slice(), u.module(), recipe, p.in()[k], p.t());
                if (v == null && spec.required() && !exempt) {
                    return null;
                }
                values.put(spec.name(), v != null ? v : spec.defaultValue());
            }
            perModel.add(values);
        }
        return new MergeContext(p.out(), p.shape(), work, u.baseIndex(), globals, perModel, 0L);
    }

    /** The declared parameter a message names first, or null. */
    private String namedParameter(String message) {
        String best = null;
        int at = Integer.MAX_VALUE;
        for (String name : parameterNames(method)) {
            Matcher m = Pattern.compile("(?<![\\w'])" + Pattern.quote(name) + "(?![\\w'])").matcher(message);
            if (m.find() && m.start() < at) {
                at = m.start();
                best = name;
            }
        }
        return best;
    }

    private Where parameterWhere(String param, String message, Unit u) {
        if (param == null) {
            return recipe.mergeMethodWhere();
        }
        List<ModelRef> candidates = new ArrayList<>(u.operands());
        Matcher input = INPUT.matcher(message);
        if (input.find()) {
            int k = Integer.parseInt(input.group(1)) - 1;
            if (k >= 0 && k < candidates.size()) {
                candidates.addFirst(candidates.get(k));
            }
        }
        for (ModelRef m : candidates) {
            Where w = ParameterResolver.whereOf(param, m, u.slice(), u.module(), recipe);
            if (w != null) {
                return w;
            }
        }
        Where w = ParameterResolver.whereOf(param, null, u.slice(), u.module(), recipe);
        return w != null ? w : recipe.mergeMethodWhere();
    }

    private void once(Problem p) {
        if (reported.add(p.message() + "@" + p.where())) {
            out.add(p);
        }
    }
}
