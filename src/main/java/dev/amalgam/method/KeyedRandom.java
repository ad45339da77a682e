package dev.amalgam.method;

import dev.amalgam.kernel.Kernels;

import java.nio.charset.StandardCharsets;

/**
 * A random stream addressed by position instead of consumed in order: the method stage's source
 * of DARE and DELLA keep decisions. The 32-bit word for element {@code i} of one model's task
 * vector is a pure function of (seed, tensor name, operand index, i): SplitMix64's output
 * function applied to {@code stream + (i+1)·φ}, where {@code stream} mixes the seed with a
 * 64-bit FNV-1a hash of the tensor name and the operand index. The same seed therefore gives
 * the same masks whatever the thread count or chunk size, and a measuring pass and the applying
 * pass see identical draws.
 *
 * <p>An element is kept iff {@code (r & 0xFFFFFF) · 2^-24 < p}, the comparison torch's CPU
 * bernoulli makes with each MT19937 word; only the source of the words differs from mergekit.
 */
final class KeyedRandom implements RandomWords {

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private final long stream;

    KeyedRandom(long seed, String tensorName, int operand) {
        long h = 0xCBF29CE484222325L;
        for (byte b : tensorName.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xFF)) * 0x100000001B3L;
        }
        this.stream = mix(mix(seed ^ h) + (operand + 1L) * GOLDEN);
    }

    /** The 32-bit word for element {@code index}. */
    @Override
    public int word(long index) {
        return (int) (mix(stream + (index + 1) * GOLDEN) >>> 32);
    }

    /** The same words in bulk, through the kernels (vectorised). */
    @Override
    public void words(long index, int n, int[] dst) {
        Kernels.keyedWords(stream, index, n, dst);
    }


    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
