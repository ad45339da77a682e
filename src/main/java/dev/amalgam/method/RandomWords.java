package dev.amalgam.method;

/**
 * The 32-bit random words that decide which elements of one model's task vector a random
 * sparsification (DARE, DELLA) keeps, addressed by element index. Method stage. Two sources:
 * {@link KeyedRandom} (the default: a pure function of seed, tensor, model and index) and the
 * {@code --rng mergekit} MT19937 stream, which reproduces mergekit's seeded masks.
 */
interface RandomWords {

    /** The word for element {@code index}; indices are requested in ascending order within a pass. */
    int word(long index);

    /** The words for elements {@code index .. index+n) into {@code dst[0..n)}; same order rule. */
    default void words(long index, int n, int[] dst) {
        for (int e = 0; e < n; e++) {
            dst[e] = word(index + e);
        }
    }

    /**
     * The integer form of the keep test: {@code keep(word, p)} iff {@code (word & 0xFFFFFF) < threshold(p)},
     * because the 24-bit integer scaled by 2^-24 is exact and so is {@code p · 2^24} in double.
     */
    static int threshold(float p) {
        return (int) Math.ceil(p * 0x1p24);
    }

    /** The bernoulli test on one word: its low 24 bits as a uniform in [0, 1), below {@code p}. */
    static boolean keep(int word, float p) {
        return (word & 0xFFFFFF) * 0x1p-24f < p;
    }
}
