/**
 * Tokenizers: reading and writing Hugging Face tokenizer directories ({@code tokenizer.json},
 * {@code tokenizer_config.json}, {@code special_tokens_map.json}, {@code chat_template.jinja},
 * {@code tokenizer.model}), building the output vocabulary of a merge as mergekit does
 * ({@code tokenizer_source} / {@code tokenizer:}), the per-model permutations and row maps that
 * re-index embedding matrices to it, and chat templates. Used by the plan stage (vocabulary,
 * permutations, validation before any tensor is read), the exec stage (row maps) and the output
 * stage (files).
 */
package dev.amalgam.tokenizer;
