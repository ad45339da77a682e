package dev.amalgam.bench;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * File chores of the benchmark: deleting outputs, reading inputs into the page cache, free
 * space. Bench stage.
 */
final class BenchFiles {

    private static final int READ_BLOCK = 8 << 20;

    private BenchFiles() {
    }

    /** Deletes a file or a directory tree; nothing if it does not exist. */
    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            List<Path> all = s.sorted(Comparator.reverseOrder()).toList();
            for (Path q : all) {
                Files.deleteIfExists(q);
            }
        }
    }

    /** Reads every regular file under the directories once, so that they sit in the page cache. */
    static long warm(List<Path> dirs) {
        long n = 0;
        ByteBuffer buf = ByteBuffer.allocateDirect(READ_BLOCK);
        for (Path d : dirs) {
            try (Stream<Path> s = Files.list(d)) {
                for (Path f : s.filter(Files::isRegularFile).sorted().toList()) {
                    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                        int r;
                        do {
                            buf.clear();
                            r = ch.read(buf);
                            n += Math.max(r, 0);
                        } while (r >= 0);
                    }
                }
            } catch (IOException e) {
                throw AmalgamException.io("cannot read '" + d + "': " + e.getMessage(), Where.file(d),
                        "check the benchmark cache (--cache)", e);
            }
        }
        return n;
    }

    /**
     * Lets the disk finish what earlier runs left it (the deleted output's writeback, the cache's
     * own dirty pages): runs {@code sync}, so that no run pays for the one before it. Best effort.
     */
    static void settle() {
        try {
            Process p = new ProcessBuilder("sync").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            p.waitFor();
        } catch (IOException e) {
            // no sync command: the runs may overlap some writeback
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Usable bytes on the file system that holds {@code dir} (or its nearest existing parent). */
    static long usableSpace(Path dir) {
        FileStore fs = store(dir);
        try {
            return fs == null ? Long.MAX_VALUE : fs.getUsableSpace();
        } catch (IOException e) {
            return Long.MAX_VALUE;
        }
    }

    /** Whether two paths (or their nearest existing parents) are on one file system. */
    static boolean sameFileSystem(Path a, Path b) {
        FileStore fa = store(a);
        return fa != null && fa.equals(store(b));
    }

    private static FileStore store(Path dir) {
        Path p = dir.toAbsolutePath();
        while (p != null && !Files.exists(p)) {
            p = p.getParent();
        }
        try {
            return p == null ? null : Files.getFileStore(p);
        } catch (IOException e) {
            return null;
        }
    }
}
