package dev.amalgam.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One added token of a Hugging Face tokenizer, as {@code tokenizer.json}'s {@code added_tokens}
 * and {@code tokenizer_config.json}'s {@code added_tokens_decoder} store it. Tokenizer stage.
 *
 * @param id         token id
 * @param content    the token text
 * @param singleWord match only whole words
 * @param lstrip     swallow whitespace on the left
 * @param rstrip     swallow whitespace on the right
 * @param normalized match against normalized text
 * @param special    a special token (skipped when decoding with {@code skip_special_tokens})
 */
public record AddedToken(int id, String content, boolean singleWord, boolean lstrip, boolean rstrip,
                         boolean normalized, boolean special) {

    /** A token added as transformers' {@code add_tokens("text")} adds it: normal, normalized. */
    public static AddedToken normal(int id, String content) {
        return new AddedToken(id, content, false, false, false, true, false);
    }

    /** Reads one entry; {@code id} is used when the node has none (added_tokens_decoder). */
    static AddedToken fromJson(JsonNode n, int id) {
        return new AddedToken(n.has("id") ? n.get("id").asInt() : id, n.path("content").asText(),
                n.path("single_word").asBoolean(false), n.path("lstrip").asBoolean(false),
                n.path("rstrip").asBoolean(false), n.path("normalized").asBoolean(!n.path("special").asBoolean(false)),
                n.path("special").asBoolean(false));
    }

    public AddedToken withId(int newId) {
        return new AddedToken(newId, content, singleWord, lstrip, rstrip, normalized, special);
    }

    /** True when both define the token the same way (ids aside). */
    public boolean sameDefinition(AddedToken o) {
        return content.equals(o.content) && singleWord == o.singleWord && lstrip == o.lstrip && rstrip == o.rstrip
                && normalized == o.normalized && special == o.special;
    }

    /** The {@code tokenizer.json} form, fields in the tokenizers library's order. */
    ObjectNode toTokenizerJson() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("id", id);
        n.put("content", content);
        n.put("single_word", singleWord);
        n.put("lstrip", lstrip);
        n.put("rstrip", rstrip);
        n.put("normalized", normalized);
        n.put("special", special);
        return n;
    }

    /** The {@code added_tokens_decoder} form (keyed by id outside). */
    ObjectNode toDecoderJson() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("content", content);
        n.put("lstrip", lstrip);
        n.put("normalized", normalized);
        n.put("rstrip", rstrip);
        n.put("single_word", singleWord);
        n.put("special", special);
        return n;
    }
}
