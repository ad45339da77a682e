package dev.amalgam.method;

/**
 * A streaming float32 sum that adds in exactly the order torch's CPU {@code sum()} of a
 * contiguous float32 tensor does (single-threaded, 8-lane vectors): elements gathered into
 * 8-lane vectors; vectors dealt round-robin into 4 accumulators, each a 4-level cascade whose
 * level width is {@code 2^max(4, ⌈log₂ rows⌉/4)} rows; leftover vectors into accumulator 0; the
 * accumulators combined; then the tail elements and finally the 8 lanes summed in order. Method
 * stage; the {@code --rng mergekit} mode uses it for DARE/DELLA's L1 rescale so that the
 * rescale factor, and hence every output element, is bit-identical to mergekit's.
 */
final class CascadeSum {

    private static final int LANES = 8;
    private static final int ROWS = 4;
    private static final int LEVELS = 4;

    private final long vectors;
    private final long rows;
    private final int levelPower;
    private final long levelStep;
    private final long fullGroupRows;
    private final float[][][] acc = new float[LEVELS][ROWS][LANES];
    private final float[][] leftover = new float[ROWS][LANES];
    private final float[] current = new float[LANES];
    private int leftoverCount;
    private long position;
    private float tail;

    /** A sum over exactly {@code n} elements, fed in order. */
    CascadeSum(long n) {
        this.vectors = n / LANES;
        this.rows = vectors / ROWS;
        this.levelPower = Math.max(4, ceilLog2(rows) / LEVELS);
        this.levelStep = 1L << levelPower;
        this.fullGroupRows = rows / levelStep * levelStep;
    }

    private static int ceilLog2(long x) {
        return x <= 2 ? 1 : 64 - Long.numberOfLeadingZeros(x - 1);
    }

    /** Adds {@code |v[0..n)|}. */
    void addAbs(float[] v, int n) {
        for (int e = 0; e < n; e++) {
            add(Math.abs(v[e]));
        }
    }

    void add(float x) {
        long vec = position / LANES;
        if (vec >= vectors) {
            tail += x;
            position++;
            return;
        }
        int lane = (int) (position % LANES);
        current[lane] = x;
        position++;
        if (lane == LANES - 1) {
            vector(vec);
        }
    }

    private void vector(long vec) {
        long row = vec / ROWS;
        int k = (int) (vec % ROWS);
        if (row >= rows) {
            System.arraycopy(current, 0, leftover[leftoverCount++], 0, LANES);
            return;
        }
        float[] a = acc[0][k];
        for (int l = 0; l < LANES; l++) {
            a[l] += current[l];
        }
        long done = row + 1;
        if (k == ROWS - 1 && done <= fullGroupRows && done % levelStep == 0) {
            cascade(done);
        }
    }

    private void cascade(long i) {
        long mask = levelStep - 1;
        for (int j = 1; j < LEVELS; j++) {
            for (int k = 0; k < ROWS; k++) {
                for (int l = 0; l < LANES; l++) {
                    acc[j][k][l] += acc[j - 1][k][l];
                    acc[j - 1][k][l] = 0f;
                }
            }
            if ((i & (mask << (j * levelPower))) != 0) {
                break;
            }
        }
    }

    /** The sum, once all {@code n} elements have been added. */
    float result() {
        float[][] partial = new float[ROWS][LANES];
        for (int k = 0; k < ROWS; k++) {
            for (int l = 0; l < LANES; l++) {
                float s = acc[0][k][l];
                for (int j = 1; j < LEVELS; j++) {
                    s += acc[j][k][l];
                }
                partial[k][l] = s;
            }
        }
        for (int r = 0; r < leftoverCount; r++) {
            for (int l = 0; l < LANES; l++) {
                partial[0][l] += leftover[r][l];
            }
        }
        for (int k = 1; k < ROWS; k++) {
            for (int l = 0; l < LANES; l++) {
                partial[0][l] += partial[k][l];
            }
        }
        float total = 0f + tail;
        for (int l = 0; l < LANES; l++) {
            total += partial[0][l];
        }
        return total;
    }
}
