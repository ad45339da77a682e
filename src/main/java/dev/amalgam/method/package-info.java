/**
 * Merge methods: one small final class per method, each declaring its parameters and base-model
 * rule and producing a streaming per-tensor computation ({@link dev.amalgam.method.TensorMerge})
 * over float32 chunks that follows mergekit's rounding to the working dtype step by step. The
 * registry {@link dev.amalgam.method.Methods} lists them all.
 */
package dev.amalgam.method;
