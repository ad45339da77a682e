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
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;

import java.io.StringReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * A mergekit-moe recipe ({@code MoEMergeConfig}): a base model that donates everything but the
 * MLPs, and expert models whose MLPs become the experts, routed by gates built from prompts.
 * Part of the recipe stage; Amalgam reads and checks these recipes but does not build MoE models.
 *
 * <p>Parsing checks types where pydantic does and throws on the first mismatch; values pydantic
 * accepts but the tool later rejects (a missing base model, an unknown gate mode or dtype, too few
 * experts) are kept as written so that a checker can report all of them.
 *
 * @param baseModel       {@code base_model}, or null when missing (mergekit requires it)
 * @param experts         {@code experts}, or null when missing (mergekit requires it)
 * @param gateMode        {@code gate_mode} as written; {@code hidden} when absent
 * @param dtype           {@code dtype} as written, or null
 * @param expertsPerToken {@code experts_per_token}; 2 when absent
 * @param sharedExperts   {@code shared_experts}, or null
 * @param architecture    {@code architecture} (a prefix of an output architecture name), or null
 * @param where           the document's root mapping
 * @param warnings        unknown and duplicate keys
 */
public record MoeRecipe(ModelRef baseModel, Where baseModelWhere, List<Expert> experts, Where expertsWhere,
                        String gateMode, Where gateModeWhere, String dtype, Where dtypeWhere,
                        int expertsPerToken, Where expertsPerTokenWhere, List<Expert> sharedExperts,
                        Where sharedExpertsWhere, String architecture, Where architectureWhere, Where where,
                        List<RecipeWarning> warnings) {

    /**
     * One entry of {@code experts} or {@code shared_experts}.
     *
     * @param positivePrompts prompts that should route to this expert, or null
     * @param negativePrompts prompts that should not, or null
     * @param noiseScale      {@code noise_scale}, or null
     * @param residualScale   {@code residual_scale} (shared experts), or null
     * @param where           the entry's mapping
     */
    public record Expert(ModelRef sourceModel, List<String> positivePrompts, List<String> negativePrompts,
                         Double noiseScale, Double residualScale, Where where) {

        public Expert {
            Objects.requireNonNull(sourceModel, "sourceModel");
            positivePrompts = positivePrompts == null ? null : List.copyOf(positivePrompts);
            negativePrompts = negativePrompts == null ? null : List.copyOf(negativePrompts);
        }
    }

    /** The keys of a mergekit-moe recipe. */
    public static final List<String> KEYS = List.of("base_model", "experts", "gate_mode", "dtype",
            "experts_per_token", "shared_experts", "architecture");
    private static final List<String> EXPERT = List.of("source_model", "positive_prompts", "negative_prompts",
            "noise_scale", "residual_scale");
    private static final List<String> MODEL_REF = List.of("model", "lora", "override_architecture");

    public MoeRecipe {
        experts = experts == null ? null : List.copyOf(experts);
        sharedExperts = sharedExperts == null ? null : List.copyOf(sharedExperts);
        warnings = warnings == null ? List.of() : List.copyOf(warnings);
    }

    /** Parses one YAML document; {@code fileName} (may be null) is only used in locations. */
    public static MoeRecipe parse(String text, String fileName) {
        return new Reader(fileName).recipe(compose(text, fileName));
    }

    private static Node compose(String text, String fileName) {
        String body = text.startsWith("\uFEFF") ? text.substring(1) : text;
        try {
            return new Yaml(new SafeConstructor(new LoaderOptions())).compose(new StringReader(body));
        } catch (MarkedYAMLException e) {
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String problem = e.getProblem() != null ? e.getProblem() : e.getMessage().lines().findFirst().orElse("");
            Where where = mark == null ? Where.at(fileName, 0, 0, null)
                    : Where.at(fileName, mark.getLine() + 1, mark.getColumn() + 1, null);
            throw new AmalgamException(AmalgamException.Kind.RECIPE, "invalid YAML: " + problem, where,
                    "check the indentation and quoting here", e);
        } catch (YAMLException e) {
            throw new AmalgamException(AmalgamException.Kind.RECIPE, "invalid YAML: " + e.getMessage(),
                    Where.at(fileName, 0, 0, null), null, e);
        }
    }

    /** Field-by-field reader after mergekit's {@code MoEMergeConfig} and {@code Expert}. */
    private static final class Reader {
        private final YamlNodes y;

        Reader(String fileName) {
            this.y = new YamlNodes(fileName);
        }

        MoeRecipe recipe(Node root) {
            if (!(root instanceof MappingNode)) {
                throw y.error(root, null, "a mergekit-moe recipe must be a mapping (base_model: ..., experts: ...), not "
                        + YamlNodes.describe(root), null);
            }
            Map<String, Field> f = y.fields(root, null, "the recipe", KEYS);
            Field base = f.get("base_model");
            Field experts = f.get("experts");
            Field gate = f.get("gate_mode");
            Field dtype = f.get("dtype");
            Field perToken = f.get("experts_per_token");
            Field shared = f.get("shared_experts");
            Field arch = f.get("architecture");
            String gateMode = gate == null ? "hidden" : required(gate, "gate_mode");
            Integer k = perToken == null ? null : y.integer(perToken.value(), perToken.path(), "experts_per_token");
            if (perToken != null && k == null) {
                throw y.error(perToken.value(), perToken.path(), "experts_per_token must be a whole number, not null",
                        "remove it for the default of 2");
            }
            return new MoeRecipe(base == null ? null : modelRef(base.value(), base.path(), "base_model"),
                    whereOf(base), experts(experts), whereOf(experts), gateMode, whereOf(gate),
                    dtype == null ? null : y.string(dtype.value(), dtype.path(), "dtype"), whereOf(dtype),
                    k == null ? 2 : k, whereOf(perToken), experts(shared), whereOf(shared),
                    arch == null ? null : y.string(arch.value(), arch.path(), "architecture"), whereOf(arch),
                    y.where(root, null), y.warnings());
        }

        private String required(Field field, String what) {
            String s = y.string(field.value(), field.path(), what);
            if (s == null) {
                throw y.error(field.value(), field.path(), what + " must be a string, not null", null);
            }
            return s;
        }

        private Where whereOf(Field field) {
            return field == null ? null : y.where(field.value(), field.path());
        }

        private List<Expert> experts(Field field) {
            if (field == null) {
                return null;
            }
            List<Node> nodes = y.list(field.value(), field.path(), field.key());
            if (nodes == null) {
                throw y.error(field.value(), field.path(), field.key() + " must be a list of experts, not null",
                        "write '- source_model: org/name' entries");
            }
            List<Expert> out = new ArrayList<>();
            for (int i = 0; i < nodes.size(); i++) {
                out.add(expert(nodes.get(i), YamlNodes.index(field.path(), i)));
            }
            return out;
        }

        private Expert expert(Node node, String path) {
            Map<String, Field> f = y.fields(node, path, "an expert", EXPERT);
            Field src = f.get("source_model");
            if (src == null || YamlNodes.isNull(src.value())) {
                throw y.error(src == null ? node : src.keyNode(), YamlNodes.child(path, "source_model"),
                        "missing required key 'source_model'", "every expert names its model: 'source_model: org/name'");
            }
            return new Expert(modelRef(src.value(), src.path(), "source_model"), prompts(f.get("positive_prompts")),
                    prompts(f.get("negative_prompts")), number(f.get("noise_scale")), number(f.get("residual_scale")),
                    y.where(node, path));
        }

        private List<String> prompts(Field field) {
            if (field == null) {
                return null;
            }
            List<Node> items = y.list(field.value(), field.path(), field.key());
            if (items == null) {
                return null;
            }
            List<String> out = new ArrayList<>();
            for (int i = 0; i < items.size(); i++) {
                String s = y.string(items.get(i), YamlNodes.index(field.path(), i), "a prompt");
                if (s == null) {
                    throw y.error(items.get(i), YamlNodes.index(field.path(), i), "a prompt must be a string, not null",
                            null);
                }
                out.add(s);
            }
            return out;
        }

        private Double number(Field field) {
            if (field == null || YamlNodes.isNull(field.value())) {
                return null;
            }
            Double v = y.numeric(field.value());
            if (v == null) {
                throw y.error(field.value(), field.path(), String.format(Locale.ROOT, "%s must be a number, not %s",
                        field.key(), YamlNodes.describe(field.value())), null);
            }
            return v;
        }

        private ModelRef modelRef(Node node, String path, String what) {
            if (YamlNodes.isNull(node)) {
                return null;
            }
            if (!(node instanceof MappingNode)) {
                String s = y.string(node, path, what);
                return ModelRef.parse(s, y.where(node, path));
            }
            Map<String, Field> f = y.fields(node, path, "a model reference", MODEL_REF);
            Field model = f.get("model");
            if (model == null || YamlNodes.isNull(model.value())) {
                throw y.error(node, YamlNodes.child(path, "model"), "missing required key 'model' in a model reference",
                        "the map form is {model: path[@revision], lora: path[@revision], override_architecture: Name}");
            }
            String[] m = ModelRef.parsePath(y.string(model.value(), model.path(), "model"),
                    y.string(model.value(), model.path(), "model"), y.where(model.value(), model.path()));
            Field lora = f.get("lora");
            String[] l = lora == null || YamlNodes.isNull(lora.value()) ? new String[2]
                    : ModelRef.parsePath(y.string(lora.value(), lora.path(), "lora"),
                    y.string(lora.value(), lora.path(), "lora"), y.where(lora.value(), lora.path()));
            Field arch = f.get("override_architecture");
            return new ModelRef(m[0], m[1], l[0], l[1],
                    arch == null ? null : y.string(arch.value(), arch.path(), "override_architecture"));
        }
    }
}
