package dev.amalgam.recipe;

import dev.amalgam.error.Where;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How the output tokenizer is built, from the legacy {@code tokenizer_source:} or the
 * {@code tokenizer:} block. Part of the recipe stage.
 *
 * @param source          {@code "union"} or {@code "base"}; null when {@code sourceModel} is set
 * @param sourceModel     the model whose tokenizer is used, or null
 * @param tokens          per-token embedding sources in file order; empty for the legacy form
 * @param padToMultipleOf pad the vocabulary to a multiple of this, or null
 * @param legacy          true when written as {@code tokenizer_source}
 * @param where           the {@code tokenizer_source} value or the {@code tokenizer} block
 */
public record TokenizerSpec(String source, ModelRef sourceModel, Map<String, TokenSpec> tokens,
                            Integer padToMultipleOf, boolean legacy, Where where) {

    public TokenizerSpec {
        tokens = tokens == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(tokens));
    }
}
