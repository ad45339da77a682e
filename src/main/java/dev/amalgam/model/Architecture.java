package dev.amalgam.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The layer structure of a model, inferred from its tensor names and config.json, with no
 * per-architecture table. Model stage.
 *
 * <p>The first {@code .<digits>.} in a name marks a layer: the text before it is the layer
 * prefix (e.g. {@code model.layers}, {@code transformer.h}, {@code bert.encoder.layer}), the text
 * after it the layer suffix ({@code self_attn.q_proj.weight}; per-expert MoE tensors keep their
 * expert index in the suffix). The prefix whose layers match the config's layer count (or, failing
 * that, the one with most tensors) is the layer stack that recipes slice. Names without a layer
 * index are pre-layer weights when they are input embeddings and post-layer weights otherwise
 * (final norm, output head, pooler, prediction heads). Every tensor falls in exactly one group.
 *
 * <p>Extra weights, which a merge carries unchanged from its donor (the base model), are the
 * tensors of other modules: of a multimodal model's non-text towers and projectors — any name with
 * a path component from {@link #AUXILIARY} — and of any other numbered stack (with the tensors
 * under that stack's root, the first path component where it leaves the layer stack's path).
 *
 * <p>Where names alone cannot tell, a small table decides:
 * <ul>
 *   <li>{@link #AUXILIARY}: the component names of vision and audio towers and projectors
 *       (LLaVA, Gemma 3, Mistral 3, Qwen2-VL, Idefics, Phi-3-vision), so that a tower with as many
 *       layers as the text model, or with more tensors, is never taken for it;</li>
 *   <li>{@link #LAYER_KEYS}: where config.json keeps the layer count; a multimodal config that
 *       omits {@code text_config.num_hidden_layers} (older LLaVA) gets it written when a merge
 *       changes the count, from the layers present;</li>
 *   <li>output heads that tie to the input embedding: {@code lm_head}, GPT-NeoX's
 *       {@code embed_out}, BERT's {@code cls.predictions.decoder} ({@link #isOutputHead}).</li>
 * </ul>
 */
public final class Architecture {

    private static final Pattern LAYER = Pattern.compile("\\.(\\d+)\\.");

    /** Config keys that hold the layer count, in the order they are tried. */
    static final List<String> LAYER_KEYS = List.of(
            "num_hidden_layers", "n_layer", "num_layers", "n_layers", "text_config.num_hidden_layers");

    /** Path components of non-text modules: vision and audio towers, multimodal projectors. */
    public static final Set<String> AUXILIARY = Set.of("vision_tower", "vision_model", "visual", "vision_encoder",
            "vision_embed_tokens", "multi_modal_projector", "mm_projector", "image_newline", "audio_tower",
            "audio_encoder", "audio_model");

    private static final List<String> EMBED_MARKERS = List.of(
            "embed", "wte", "wpe", "word_embeddings", "position_embeddings", "token_type_embeddings");

    private static final List<String> EMBED_MATRIX_MARKERS = List.of(
            "embed_tokens", "wte", "embed_in", "word_embeddings", "tok_embeddings");

    private final String layerPrefix;
    private final int numLayers;
    private final String layerCountKey;
    private final List<String> pre;
    private final List<String> post;
    private final List<String> extra;
    private final Map<Integer, List<String>> layerSuffixes;

    private Architecture(String layerPrefix, int numLayers, String layerCountKey, List<String> pre,
                         List<String> post, List<String> extra, Map<Integer, List<String>> layerSuffixes) {
        this.layerPrefix = layerPrefix;
        this.numLayers = numLayers;
        this.layerCountKey = layerCountKey;
        this.pre = pre;
        this.post = post;
        this.extra = extra;
        this.layerSuffixes = layerSuffixes;
    }

    /** Infers the structure of an opened model. */
    public static Architecture infer(Model model) {
        return infer(model.tensors().keySet(), model.config());
    }

    /** Infers the structure from tensor names and a config.json tree. */
    public static Architecture infer(Iterable<String> names, ObjectNode config) {
        String key = null;
        int configLayers = -1;
        for (String k : LAYER_KEYS) {
            JsonNode v = Configs.get(config, k);
            if (v != null && v.canConvertToInt()) {
                key = k;
                configLayers = v.asInt();
                break;
            }
        }
        Map<String, Integer> prefixCount = new LinkedHashMap<>();
        Map<String, Integer> prefixMax = new LinkedHashMap<>();
        for (String n : names) {
            Matcher m = LAYER.matcher(n);
            if (!isAuxiliary(n) && m.find()) {
                String p = n.substring(0, m.start());
                prefixCount.merge(p, 1, Integer::sum);
                prefixMax.merge(p, Integer.parseInt(m.group(1)), Math::max);
            }
        }
        String prefix = null;
        for (Map.Entry<String, Integer> e : prefixMax.entrySet()) {
            if (e.getValue() + 1 == configLayers
                    && (prefix == null || prefixCount.get(e.getKey()) > prefixCount.get(prefix))) {
                prefix = e.getKey();
            }
        }
        if (prefix == null) {
            for (Map.Entry<String, Integer> e : prefixCount.entrySet()) {
                if (prefix == null || e.getValue() > prefixCount.get(prefix)) {
                    prefix = e.getKey();
                }
            }
        }
        List<String> otherRoots = new ArrayList<>();
        for (String p : prefixCount.keySet()) {
            if (!p.equals(prefix)) {
                otherRoots.add(root(p, prefix));
            }
        }
        List<String> pre = new ArrayList<>();
        List<String> post = new ArrayList<>();
        List<String> extra = new ArrayList<>();
        Map<Integer, TreeSet<String>> layers = new TreeMap<>();
        for (String n : names) {
            Matcher m = LAYER.matcher(n);
            if (isAuxiliary(n) || otherRoots.stream().anyMatch(r -> n.startsWith(r + "."))) {
                extra.add(n);
            } else if (m.find() && n.substring(0, m.start()).equals(prefix)) {
                layers.computeIfAbsent(Integer.parseInt(m.group(1)), i -> new TreeSet<>()).add(n.substring(m.end()));
            } else if (isEmbedding(n)) {
                pre.add(n);
            } else {
                post.add(n);
            }
        }
        int observed = layers.isEmpty() ? 0 : ((TreeMap<Integer, TreeSet<String>>) layers).lastKey() + 1;
        if (key == null && config.get("text_config") instanceof ObjectNode && prefix != null
                && prefix.contains("language_model")) {
            key = "text_config.num_hidden_layers";
        }
        int count = configLayers >= 0 ? Math.max(configLayers, 0) : observed;
        Map<Integer, List<String>> suffixes = new TreeMap<>();
        layers.forEach((i, s) -> suffixes.put(i, List.copyOf(s)));
        return new Architecture(prefix, count, key, List.copyOf(pre), List.copyOf(post), List.copyOf(extra),
                suffixes);
    }

    /**
     * The root of another numbered stack: its path up to and including the first component where
     * it leaves the layer stack's path ({@code vision_tower} for {@code vision_tower.vision_model.encoder.layers}
     * beside {@code language_model.model.layers}).
     */
    private static String root(String other, String stack) {
        String[] o = other.split("\\.");
        String[] s = stack == null ? new String[0] : stack.split("\\.");
        int i = 0;
        while (i < o.length - 1 && i < s.length && o[i].equals(s[i])) {
            i++;
        }
        return String.join(".", Arrays.copyOf(o, i + 1));
    }

    /** True for a tensor of a non-text module (a vision or audio tower, a multimodal projector). */
    public static boolean isAuxiliary(String name) {
        for (String c : name.split("\\.")) {
            if (AUXILIARY.contains(c)) {
                return true;
            }
        }
        return false;
    }

    private static boolean isEmbedding(String name) {
        if (isOutputHead(name)) {
            return false;
        }
        for (String m : EMBED_MARKERS) {
            if (name.contains(m)) {
                return true;
            }
        }
        return false;
    }

    /** The layer prefix without its trailing dot, e.g. {@code model.layers}; null when there are no layers. */
    public String layerPrefix() {
        return layerPrefix;
    }

    /** The number of decoder layers (from config.json when it says). */
    public int numLayers() {
        return numLayers;
    }

    /** Layers that actually have tensors (at most {@link #numLayers()} unless the config is wrong). */
    public int observedLayers() {
        return layerSuffixes.isEmpty() ? 0 : ((TreeMap<Integer, List<String>>) layerSuffixes).lastKey() + 1;
    }

    /** The config key (dotted path) holding the layer count, or null. */
    public String layerCountKey() {
        return layerCountKey;
    }

    /** Pre-layer weights (embeddings), sorted by name. */
    public List<String> preWeights() {
        return pre;
    }

    /** Post-layer weights (final norm, lm_head, ...), sorted by name. */
    public List<String> postWeights() {
        return post;
    }

    /** Weights under other numbered prefixes (vision towers, projectors with layers). */
    public List<String> extraWeights() {
        return extra;
    }

    /** Suffixes of layer {@code i}, sorted; empty when the layer has no tensors. */
    public List<String> layerSuffixes(int i) {
        return layerSuffixes.getOrDefault(i, List.of());
    }

    /** The full tensor name of a layer weight. */
    public String layerTensor(int layer, String suffix) {
        return layerPrefix + "." + layer + "." + suffix;
    }

    /** The input-embedding matrix (the tie target of an lm_head), or null. */
    public String embeddingMatrix() {
        for (String m : EMBED_MATRIX_MARKERS) {
            for (String n : pre) {
                if (n.contains(m) && n.endsWith("weight")) {
                    return n;
                }
            }
        }
        return null;
    }

    /** True for an output head that a model with tied embeddings stores as its embedding matrix. */
    public static boolean isOutputHead(String name) {
        return name.equals("lm_head.weight") || name.endsWith(".lm_head.weight") || name.equals("embed_out.weight")
                || name.equals("cls.predictions.decoder.weight");
    }

    /** True for vocabulary-indexed matrices (embeddings and output heads). */
    public static boolean isVocabMatrix(String name) {
        return isOutputHead(name) || name.contains("embed_tokens") || name.contains("wte.")
                || name.contains("embed_in") || name.contains("word_embeddings") || name.contains("tok_embeddings");
    }
}
