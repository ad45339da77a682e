package dev.amalgam.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The layer structure of a model, inferred from its tensor names and config.json, with no
 * per-architecture table. Model stage.
 *
 * <p>The first {@code .<digits>.} in a name marks a layer: the text before it is the layer
 * prefix (e.g. {@code model.layers}), the text after it the layer suffix
 * ({@code self_attn.q_proj.weight}). The prefix whose layers match the config's layer count (or,
 * failing that, the one with most tensors) is the decoder stack. Names without a layer index
 * are pre-layer weights when they are embeddings and post-layer weights otherwise (final norm,
 * lm_head). Tensors under any other numbered prefix (a vision tower, say) are extra weights the
 * merge carries from the donor model. Every tensor falls in exactly one of these groups.
 */
public final class Architecture {

    private static final Pattern LAYER = Pattern.compile("\\.(\\d+)\\.");

    /** Config keys that hold the layer count, in the order they are tried. */
    private static final List<String> LAYER_KEYS = List.of(
            "num_hidden_layers", "n_layer", "num_layers", "n_layers", "text_config.num_hidden_layers");

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
            if (m.find()) {
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
        List<String> pre = new ArrayList<>();
        List<String> post = new ArrayList<>();
        List<String> extra = new ArrayList<>();
        Map<Integer, TreeSet<String>> layers = new TreeMap<>();
        for (String n : names) {
            Matcher m = LAYER.matcher(n);
            if (m.find()) {
                String p = n.substring(0, m.start());
                if (p.equals(prefix)) {
                    layers.computeIfAbsent(Integer.parseInt(m.group(1)), i -> new TreeSet<>())
                            .add(n.substring(m.end()));
                } else {
                    extra.add(n);
                }
            } else if (isEmbedding(n)) {
                pre.add(n);
            } else {
                post.add(n);
            }
        }
        int observed = layers.isEmpty() ? 0 : ((TreeMap<Integer, TreeSet<String>>) layers).lastKey() + 1;
        int count = configLayers >= 0 ? Math.max(configLayers, 0) : observed;
        Map<Integer, List<String>> suffixes = new TreeMap<>();
        layers.forEach((i, s) -> suffixes.put(i, List.copyOf(s)));
        return new Architecture(prefix, count, key, List.copyOf(pre), List.copyOf(post), List.copyOf(extra),
                suffixes);
    }

    private static boolean isEmbedding(String name) {
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
        return name.equals("lm_head.weight") || name.endsWith(".lm_head.weight") || name.equals("embed_out.weight");
    }

    /** True for vocabulary-indexed matrices (embeddings and output heads). */
    public static boolean isVocabMatrix(String name) {
        return isOutputHead(name) || name.contains("embed_tokens") || name.contains("wte.")
                || name.contains("embed_in") || name.contains("word_embeddings") || name.contains("tok_embeddings");
    }
}
