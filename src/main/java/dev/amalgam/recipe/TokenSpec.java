package dev.amalgam.recipe;

import dev.amalgam.error.Where;

/**
 * Where one token's embedding comes from, from {@code tokenizer.tokens.<token>}. Part of the
 * recipe stage; the tokenizer step of the output stage applies it.
 *
 * @param kind    {@code "model"} (the token's row in {@code model}), {@code "model_token"} (row
 *                {@code tokenId} or {@code token} of {@code model}), {@code "zero"} (all zeros),
 *                or null when no {@code source} was written (the default embedding applies)
 * @param model   for {@code model} and {@code model_token}, else null
 * @param tokenId for {@code model_token} by id, else null
 * @param token   for {@code model_token} by token text, else null
 * @param force   whether to use this source even when the base model has the token
 */
public record TokenSpec(String kind, ModelRef model, Integer tokenId, String token, boolean force, Where where) {
}
