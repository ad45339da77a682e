package dev.amalgam.exec;

import dev.amalgam.golden.Golden;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A full disk — a small tmpfs mounted for the test (where the test may mount; skipped
 * elsewhere) — gives a clear error, and nothing that looks like a model is left behind.
 */
class DiskFullTest {

    @TempDir
    Path tmp;
    Path mount;

    @BeforeEach
    void mountPoint() throws IOException {
        mount = tmp.resolve("small");
        Files.createDirectories(mount);
    }

    @AfterEach
    void unmount() throws Exception {
        new ProcessBuilder("umount", mount.toString()).start().waitFor(10, TimeUnit.SECONDS);
    }

    private void mountTmpfs(String size) throws Exception {
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", mount.toString())
                .redirectErrorStream(true).start();
        boolean ok = p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        Assumptions.assumeTrue(ok, "cannot mount a tmpfs here (needs root); the disk-full test is skipped");
    }

    private void assertEmpty() throws IOException {
        try (Stream<Path> s = Files.list(mount)) {
            assertThat(s.toList()).isEmpty();
        }
    }

    @Test
    void tooLittleSpaceIsRefusedBeforeWriting() throws Exception {
        mountTmpfs("64k");
        Golden.Run r = Golden.merge("linear", mount.resolve("out"));
        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.err()).contains("not enough free disk space for the output: it needs 418,856 bytes",
                "hint: free some space or write the output to another disk; nothing was written");
        assertEmpty();
    }

    @Test
    void aDiskThatFillsUpDuringTheMergeLeavesNothing() throws Exception {
        // room for the tensors (103 pages) and config, not for the tokenizer files copied after them
        mountTmpfs("428k");
        Golden.Run r = Golden.merge("linear", mount.resolve("out"));
        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.err()).contains("No space left on device");
        assertEmpty();
    }
}
