/**
 * Kernel stage: the float32 inner loops of merging, and {@link dev.amalgam.kernel.Codec}, the exact
 * conversions between every stored dtype and float32 (round to nearest even on the way out, NaN,
 * infinities and subnormals preserved, torch's semantics where they matter). Kernels work on
 * {@code float[]} chunks and {@link java.lang.foreign.MemorySegment}s in plain counted loops that the
 * JIT can vectorise; they allocate nothing per element and know nothing about files or plans.
 */
package dev.amalgam.kernel;
