package dev.amalgam.method;

/**
 * The 32-bit Mersenne Twister (MT19937) with the standard {@code init_genrand} seeding — the
 * generator behind torch's CPU random numbers, which mergekit's seeded DARE and DELLA masks
 * come from. Method stage; used only in the {@code --rng mergekit} compatibility mode.
 */
public final class Mt19937 {

    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908B0DF;
    private static final int UPPER = 0x80000000;
    private static final int LOWER = 0x7FFFFFFF;

    private final int[] mt = new int[N];
    private int index;

    /** Seeds as {@code torch.manual_seed(seed)} does: {@code init_genrand(seed & 0xFFFFFFFF)}. */
    public Mt19937(long seed) {
        mt[0] = (int) seed;
        for (int i = 1; i < N; i++) {
            mt[i] = 1812433253 * (mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
        }
        index = N;
    }

    private Mt19937(Mt19937 other) {
        System.arraycopy(other.mt, 0, mt, 0, N);
        index = other.index;
    }

    /** An independent generator in the same state. */
    public Mt19937 copy() {
        return new Mt19937(this);
    }

    /** The next 32-bit word. */
    public int next() {
        if (index >= N) {
            twist();
        }
        int y = mt[index++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9D2C5680;
        y ^= (y << 15) & 0xEFC60000;
        y ^= y >>> 18;
        return y;
    }

    /** Fills {@code out[0..n)} with the next words. */
    public void next(int[] out, int n) {
        for (int i = 0; i < n; i++) {
            out[i] = next();
        }
    }

    /** Advances by {@code n} words. */
    public void skip(long n) {
        long left = n;
        while (left > 0) {
            if (index >= N) {
                twist();
            }
            int step = (int) Math.min(left, N - index);
            index += step;
            left -= step;
        }
    }

    private void twist() {
        for (int k = 0; k < N; k++) {
            int y = (mt[k] & UPPER) | (mt[(k + 1) % N] & LOWER);
            mt[k] = mt[(k + M) % N] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
        }
        index = 0;
    }
}
