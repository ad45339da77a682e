/**
 * Kernel stage: the float32 inner loops of merging, and {@link dev.amalgam.kernel.Codec}, the exact
 * conversions between every stored dtype and float32 (round to nearest even on the way out, NaN,
 * infinities and subnormals preserved, torch's semantics where they matter). Kernels work on
 * {@code float[]} chunks and {@link java.lang.foreign.MemorySegment}s; they allocate nothing per
 * element and know nothing about files or plans. {@link dev.amalgam.kernel.Kernels} is the one
 * entry point: it picks, once, the Vector API kernels or the scalar reference, which define the
 * results bit for bit (codecs, LERP/SLERP, linear's weighted sum, the task-vector family's
 * subtraction, masks, random words, L1 sums and sign consensus, model_stock's Gram sums).
 */
package dev.amalgam.kernel;
