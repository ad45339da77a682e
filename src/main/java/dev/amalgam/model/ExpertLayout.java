package dev.amalgam.model;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.DType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How a mixture-of-experts checkpoint stores its experts, and the conversion between the two ways.
 * Model stage. Checkpoints on the Hub mostly keep one matrix per expert — Mixtral's
 * {@code block_sparse_moe.experts.E.w1/w2/w3.weight} with the router {@code block_sparse_moe.gate.weight},
 * Qwen-MoE's {@code mlp.experts.E.gate_proj/up_proj/down_proj.weight} — while transformers 5 writes
 * them fused: {@code mlp.experts.gate_up_proj} {@code (experts, 2·intermediate, hidden)}, each expert's
 * gate rows before its up rows, {@code mlp.experts.down_proj} {@code (experts, hidden, intermediate)}
 * and the router {@code mlp.gate.weight}.
 *
 * <p>When the models of a merge mix the two, the per-expert ones are read as fused tensors assembled
 * on the fly (transformers' checkpoint conversion, which mergekit applies on load), so that every
 * model has the same tensors and the output is fused. When they agree, each keeps its own layout —
 * mergekit instead always writes the fused one.
 */
public final class ExpertLayout {

    /** How a model stores its experts. */
    public enum Kind { NONE, PER_EXPERT, FUSED }

    private static final Pattern MIXTRAL = Pattern.compile("(.+)\\.block_sparse_moe\\.experts\\.(\\d+)\\.(w1|w2|w3)\\.weight");
    private static final Pattern MIXTRAL_ROUTER = Pattern.compile("(.+)\\.block_sparse_moe\\.gate\\.weight");
    private static final Pattern QWEN = Pattern.compile("(.+)\\.mlp\\.experts\\.(\\d+)\\.(gate_proj|up_proj|down_proj)\\.weight");
    private static final Pattern FUSED = Pattern.compile(".+\\.mlp\\.experts\\.(gate_up_proj|down_proj)");

    private ExpertLayout() {
    }

    /** The layout of {@code model}'s experts. */
    public static Kind of(Model model) {
        for (String n : model.tensors().keySet()) {
            if (FUSED.matcher(n).matches()) {
                return Kind.FUSED;
            }
            if (MIXTRAL.matcher(n).matches() || QWEN.matcher(n).matches()) {
                return Kind.PER_EXPERT;
            }
        }
        return Kind.NONE;
    }

    /**
     * Makes the models' layouts agree: when some are fused and some per-expert, the per-expert ones
     * are replaced (in {@code models}) by fused views. Returns a note for each converted model.
     */
    public static <K> List<String> unify(Map<K, Model> models) {
        Map<K, Kind> kinds = new LinkedHashMap<>();
        models.forEach((k, m) -> kinds.put(k, of(m)));
        List<String> notes = new ArrayList<>();
        if (!kinds.containsValue(Kind.FUSED) || !kinds.containsValue(Kind.PER_EXPERT)) {
            return notes;
        }
        for (Map.Entry<K, Kind> e : kinds.entrySet()) {
            if (e.getValue() == Kind.PER_EXPERT) {
                models.put(e.getKey(), fuse(models.get(e.getKey())));
                notes.add(e.getKey() + " stores one tensor per expert; it is read as fused expert tensors "
                        + "(mlp.experts.gate_up_proj, mlp.experts.down_proj) like the other models");
            }
        }
        return notes;
    }

    /** {@code model} seen with fused expert tensors instead of per-expert ones. */
    public static Model fuse(Model model) {
        Map<String, Map<Integer, Map<String, TensorHandle>>> layers = new TreeMap<>();
        Map<String, TensorHandle> view = new TreeMap<>(model.tensors());
        Map<String, List<String>> stored = new LinkedHashMap<>();
        for (Map.Entry<String, TensorHandle> e : model.tensors().entrySet()) {
            Matcher m = MIXTRAL.matcher(e.getKey());
            Matcher q = QWEN.matcher(e.getKey());
            Matcher r = MIXTRAL_ROUTER.matcher(e.getKey());
            Matcher hit = m.matches() ? m : q.matches() ? q : null;
            if (hit != null) {
                String role = switch (hit.group(3)) {
                    case "w1", "gate_proj" -> "gate";
                    case "w3", "up_proj" -> "up";
                    default -> "down";
                };
                layers.computeIfAbsent(hit.group(1), k -> new TreeMap<>())
                        .computeIfAbsent(Integer.parseInt(hit.group(2)), k -> new LinkedHashMap<>())
                        .put(role, e.getValue());
                view.remove(e.getKey());
            } else if (r.matches()) {
                String name = r.group(1) + ".mlp.gate.weight";
                TensorHandle h = e.getValue();
                view.remove(e.getKey());
                view.put(name, TensorHandle.derived(name, h.info().dtype(), h.info().shape(),
                        new Derivation.Stack(List.of(h))));
                stored.put(name, List.of(e.getKey()));
            }
        }
        for (Map.Entry<String, Map<Integer, Map<String, TensorHandle>>> layer : layers.entrySet()) {
            String p = layer.getKey();
            Map<Integer, Map<String, TensorHandle>> experts = layer.getValue();
            List<TensorHandle> gateUp = new ArrayList<>();
            List<TensorHandle> down = new ArrayList<>();
            int e = 0;
            for (Map.Entry<Integer, Map<String, TensorHandle>> x : experts.entrySet()) {
                Map<String, TensorHandle> roles = x.getValue();
                if (x.getKey() != e || roles.size() != 3) {
                    throw incomplete(model, p, e, x.getKey() != e ? "expert " + e + " is missing"
                            : "expert " + x.getKey() + " has only " + roles.keySet());
                }
                gateUp.add(roles.get("gate"));
                gateUp.add(roles.get("up"));
                down.add(roles.get("down"));
                e++;
            }
            add(model, view, stored, p + ".mlp.experts.gate_up_proj", gateUp, 2);
            add(model, view, stored, p + ".mlp.experts.down_proj", down, 1);
        }
        return model.view(view, List.of(), stored, null);
    }

    /** Stacks {@code parts} (each {@code (rows, cols)}, {@code per} of them per expert) into one fused tensor. */
    private static void add(Model model, Map<String, TensorHandle> view, Map<String, List<String>> stored, String name,
                            List<TensorHandle> parts, int per) {
        TensorHandle first = parts.getFirst();
        DType dt = first.info().dtype();
        long[] s = first.info().shape();
        for (TensorHandle h : parts) {
            if (h.info().dtype() != dt || !Arrays.equals(h.info().shape(), s) || s.length != 2) {
                throw new AmalgamException(AmalgamException.Kind.SHAPE, "expert tensors of " + name + " differ: "
                        + first.name() + " is " + dt + " " + first.info().shapeString() + ", " + h.name() + " is "
                        + h.info().dtype() + " " + h.info().shapeString(), Where.tensor(model.dir(), h.name()),
                        "every expert of a layer must have the same shape and dtype");
            }
        }
        long[] shape = {parts.size() / per, s[0] * per, s[1]};
        view.put(name, TensorHandle.derived(name, dt, shape, new Derivation.Stack(parts)));
        stored.put(name, parts.stream().map(TensorHandle::name).toList());
    }

    private static AmalgamException incomplete(Model model, String layer, int expert, String what) {
        return new AmalgamException(AmalgamException.Kind.MISSING_TENSOR, "the experts of " + layer + " in "
                + model.displayName() + " are incomplete: " + what, Where.tensor(model.dir(), layer + ".experts." + expert),
                "the checkpoint is damaged or incomplete; fetch it again");
    }
}
