/**
 * Output: the model directory a merge produces — the shard index, config.json, tokenizer files
 * and generation config from the donor model, the recipe and a model card in mergekit's layout
 * — written into a locked hidden sibling and moved into place only when complete.
 */
package dev.amalgam.output;
