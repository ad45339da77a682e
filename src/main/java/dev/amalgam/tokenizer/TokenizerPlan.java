package dev.amalgam.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.amalgam.model.Configs;
import dev.amalgam.recipe.ModelRef;
import dev.amalgam.recipe.TokenSpec;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The tokenizer side of a plan: the output tokenizer, its chat template and, when the
 * vocabulary was built ({@code tokenizer_source} / {@code tokenizer:}), what re-indexes every
 * model's embedding rows to it. Tokenizer stage; made by {@link TokenizerPlanner} at plan time,
 * read by the planner (row maps, config.json) and the output stage (files).
 *
 * @param built         true when the vocabulary was built (embeddings re-indexed, vocab_size set);
 *                      false when the donor's tokenizer is only re-written with a chat template
 * @param output        the output tokenizer
 * @param chatTemplate  the template to write, or null to keep the tokenizer's own
 * @param vocabSize     tokens of the output vocabulary (the largest id + 1)
 * @param paddedSize    {@code vocabSize} rounded up to {@code pad_to_multiple_of}: the embedding rows
 * @param permutations  per merged model, for each output id the model's own id or -1
 * @param tokens        the recipe's per-token embedding sources
 * @param originals     per merged model, its own tokenizer (for {@code model_token} by text)
 * @param embeddingBase the base model for default embeddings (the recipe's {@code base_model}), or null
 * @param donor         the tokenizer of the model config.json comes from (maps its token ids), or null
 */
public record TokenizerPlan(boolean built, HfTokenizer output, String chatTemplate, int vocabSize, int paddedSize,
                            Map<ModelRef, int[]> permutations, Map<String, TokenSpec> tokens,
                            Map<ModelRef, HfTokenizer> originals, ModelRef embeddingBase, HfTokenizer donor) {

    private static final List<String> ID_KEYS = List.of("bos_token_id", "eos_token_id", "pad_token_id");

    /**
     * Updates a config.json tree (or generation_config.json) for the output vocabulary:
     * {@code vocab_size} (and {@code text_config.vocab_size} where present) to {@link #paddedSize},
     * and bos/eos/pad token ids mapped from the donor's vocabulary to the output's.
     *
     * @param setVocabSize false for generation_config.json
     * @param warnings     receives ids that cannot be mapped
     */
    public void updateConfig(ObjectNode cfg, boolean setVocabSize, List<String> warnings) {
        if (!built) {
            return;
        }
        if (setVocabSize) {
            boolean text = Configs.get(cfg, "text_config.vocab_size") != null;
            if (text) {
                Configs.setInt(cfg, "text_config.vocab_size", paddedSize);
            }
            if (!text || cfg.has("vocab_size")) {
                cfg.put("vocab_size", paddedSize);
            }
        }
        mapIds(cfg, warnings);
        if (cfg.get("text_config") instanceof ObjectNode tc) {
            mapIds(tc, warnings);
        }
    }

    private void mapIds(ObjectNode cfg, List<String> warnings) {
        if (donor == null) {
            return;
        }
        for (String key : ID_KEYS) {
            JsonNode v = cfg.get(key);
            if (v == null || v.isNull()) {
                continue;
            }
            if (v.isArray()) {
                ArrayNode a = (ArrayNode) v;
                for (int i = 0; i < a.size(); i++) {
                    if (a.get(i).canConvertToInt()) {
                        a.set(i, a.numberNode(mapId(key, a.get(i).asInt(), warnings)));
                    }
                }
            } else if (v.canConvertToInt()) {
                cfg.put(key, mapId(key, v.asInt(), warnings));
            }
        }
    }

    private int mapId(String key, int id, List<String> warnings) {
        String token = donor.token(id);
        int out = token == null ? -1 : output.id(token);
        if (out < 0) {
            warnings.add(String.format(Locale.ROOT, "config %s %d (%s in %s) is not in the output "
                    + "vocabulary; left as it is", key, id, token == null ? "no token" : "'" + token + "'",
                    donor.owner()));
            return id;
        }
        return out;
    }
}
