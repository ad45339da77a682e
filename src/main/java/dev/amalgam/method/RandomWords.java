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

    /** The bernoulli test on one word: its low 24 bits as a uniform in [0, 1), below {@code p}. */
    static boolean keep(int word, float p) {
        return (word & 0xFFFFFF) * 0x1p-24f < p;
    }
}
