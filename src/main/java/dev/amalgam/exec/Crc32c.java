package dev.amalgam.exec;

/**
 * Joins CRC-32C checksums: the checksum of {@code A ‖ B} from those of A and B and the length of
 * B, so that the pieces of a tensor merged on several workers give the tensor's journal
 * checksum without reading its bytes again. Exec stage.
 *
 * <p>The arithmetic is that of polynomials over GF(2) modulo the Castagnoli polynomial, in the
 * bit-reflected form {@link java.util.zip.CRC32C} uses (bit 31 is x^0): appending n zero bytes
 * to a message multiplies its register by x^(8n), and the initial and final inversions of the
 * two parts cancel, so {@code crc(A ‖ B) = crc(A) · x^(8·|B|) + crc(B)}. The power is built by
 * square-and-multiply from x^(2^k), k < 64, computed once.
 */
final class Crc32c {

    /** The reflected Castagnoli polynomial. */
    private static final int POLY = 0x82F63B78;
    /** x^0 in the reflected form. */
    private static final int ONE = 0x80000000;
    /** {@code POWERS[k]} = x^(2^k) mod P. */
    private static final int[] POWERS = new int[64];

    static {
        POWERS[0] = ONE >>> 1; // x^1
        for (int k = 1; k < POWERS.length; k++) {
            POWERS[k] = multiply(POWERS[k - 1], POWERS[k - 1]);
        }
    }

    private Crc32c() {
    }

    /** {@code a · b mod P}, both reflected. */
    static int multiply(int a, int b) {
        int product = 0;
        int shifted = b;
        // bit 31 - i of a is the coefficient of x^i; shifted = b · x^i mod P
        for (int i = 0; i < 32; i++) {
            if ((a << i) < 0) {
                product ^= shifted;
            }
            shifted = (shifted & 1) != 0 ? (shifted >>> 1) ^ POLY : shifted >>> 1;
        }
        return product;
    }

    /** x^(8·bytes) mod P. */
    static int shiftBytes(long bytes) {
        int p = ONE;
        long n = bytes;
        // 8·bytes = bytes · 2^3: bit j of bytes stands for x^(2^(j+3))
        for (int k = 3; n != 0 && k < POWERS.length; k++, n >>>= 1) {
            if ((n & 1) != 0) {
                p = multiply(POWERS[k], p);
            }
        }
        return p;
    }

    /** The CRC-32C of {@code A ‖ B}, given {@code crc(A)}, {@code crc(B)} and {@code |B|} in bytes. */
    static int combine(int crcA, int crcB, long lengthB) {
        return multiply(shiftBytes(lengthB), crcA) ^ crcB;
    }
}
