package dev.amalgam.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Early writeback on a real file: the kernel accepts the requests, a file too small for one is
 * never asked about, and a closed writeback ignores what comes after.
 */
class WritebackTest {

    @TempDir
    Path dir;

    @Test
    void aLargeFileBeingWrittenHasItsWritebackStartedAndTheKernelAccepts() throws Exception {
        assumeTrue(System.getProperty("os.name", "").startsWith("Linux"), "sync_file_range is Linux's");
        assertThat(Writeback.available()).isTrue();
        Path file = dir.resolve("big.bin");
        ByteBuffer block = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             Writeback wb = Writeback.open(file)) {
            long total = 3 * Writeback.KICK_BYTES + (1 << 20);
            for (long pos = 0; pos < total; pos += block.capacity()) {
                block.clear();
                while (block.hasRemaining()) {
                    ch.write(block, pos + block.position());
                }
                wb.wrote(block.capacity());
                waitForKicker(wb, pos);
            }
            int[] counts = wb.counts();
            assertThat(counts[0]).as("requests").isGreaterThanOrEqualTo(1).isLessThanOrEqualTo(3);
            assertThat(counts[1]).as("refused").isZero();
        }
    }

    @Test
    void aSmallFileIsNeverAskedAboutAndAClosedOneIgnoresWrites() throws Exception {
        Path file = dir.resolve("small.bin");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(4096), 0);
        }
        Writeback wb = Writeback.open(file);
        wb.wrote(4096);
        assertThat(wb.counts()[0]).isZero();
        wb.close();
        wb.wrote(4 * Writeback.KICK_BYTES);
        Thread.sleep(50);
        assertThat(wb.counts()[0]).isZero();
        wb.close();
    }

    /** After each kick threshold, gives the daemon thread its turn (it runs asynchronously). */
    private static void waitForKicker(Writeback wb, long pos) throws InterruptedException {
        if ((pos + (1 << 20)) % Writeback.KICK_BYTES == 0) {
            for (int i = 0; i < 200 && wb.counts()[0] == 0; i++) {
                Thread.sleep(5);
            }
        }
    }
}
