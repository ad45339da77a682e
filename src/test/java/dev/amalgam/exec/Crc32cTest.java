package dev.amalgam.exec;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.zip.CRC32C;

import static org.assertj.core.api.Assertions.assertThat;

/** Joined CRC-32C checksums against the checksum of the joined bytes (seed 0xC4C). */
class Crc32cTest {

    private static int crc(byte[] b, int from, int to) {
        CRC32C c = new CRC32C();
        c.update(b, from, to - from);
        return (int) c.getValue();
    }

    @Test
    void theChecksumsOfTwoPartsJoinIntoTheChecksumOfTheWhole() {
        SplittableRandom r = new SplittableRandom(0xC4C);
        for (int length : new int[] {0, 1, 2, 7, 64, 1000, 65537, 3 << 20}) {
            byte[] b = new byte[length];
            r.nextBytes(b);
            int whole = crc(b, 0, length);
            for (int cut : new int[] {0, length / 3, length / 2, length}) {
                assertThat(Crc32c.combine(crc(b, 0, cut), crc(b, cut, length), length - cut))
                        .as("length %d cut at %d", length, cut).isEqualTo(whole);
            }
        }
    }

    @Test
    void manyPiecesJoinInOrder() {
        SplittableRandom r = new SplittableRandom(0xC4C + 1);
        byte[] b = new byte[1 << 20];
        r.nextBytes(b);
        int joined = crc(b, 0, 0);
        for (int from = 0; from < b.length; ) {
            int to = Math.min(b.length, from + 1 + r.nextInt(50_000));
            joined = Crc32c.combine(joined, crc(b, from, to), to - from);
            from = to;
        }
        assertThat(joined).isEqualTo(crc(b, 0, b.length));
    }

    @Test
    void multiplyingByOneAndShiftingByNothingChangeNothing() {
        assertThat(Crc32c.shiftBytes(0)).isEqualTo(0x80000000);
        assertThat(Crc32c.multiply(0x80000000, 0x1234_5678)).isEqualTo(0x1234_5678);
        assertThat(Crc32c.combine(0xDEAD_BEEF, 0, 0)).isEqualTo(0xDEAD_BEEF);
    }
}
