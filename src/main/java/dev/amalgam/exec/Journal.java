package dev.amalgam.exec;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.plan.Operand;
import dev.amalgam.plan.OutputTensor;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.Shard;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The record of a merge in progress: one line per finished output tensor with the CRC-32C of its
 * bytes, after a header naming the plan's fingerprint (recipe, options, inputs, layout). Exec
 * stage. It lives in the hidden partial directory, so after a crash or {@code kill -9} a rerun
 * with {@code --resume} keeps every tensor whose bytes still match and computes the rest; a
 * changed recipe or changed inputs give another fingerprint and the journal is not used.
 *
 * <p>The journal stays in the finished directory as {@value #FILE}, where {@code verify}
 * checks every tensor against it.
 *
 * <p>Lines are appended with one write each and never forced: a crash of the process leaves the
 * page cache intact, and every kept tensor is verified against its checksum anyway.
 */
final class Journal implements AutoCloseable {

    static final String FILE = ".amalgam-journal";
    private static final String MAGIC = "amalgam-journal 1 ";

    /** Test hook: after this many recorded tensors the process stops (sleeps) so a test can kill it. */
    static final String PAUSE_PROPERTY = "amalgam.test.pauseAfterTensors";

    private final FileChannel channel;
    private final long pauseAfter;
    private long recorded;

    private Journal(FileChannel channel, long pauseAfter) {
        this.channel = channel;
        this.pauseAfter = pauseAfter;
    }

    /** Starts a fresh journal in {@code dir}. */
    static Journal create(Path dir, String fingerprint) {
        try {
            FileChannel ch = FileChannel.open(dir.resolve(FILE), StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
            ch.write(ByteBuffer.wrap((MAGIC + fingerprint + "\n").getBytes(StandardCharsets.UTF_8)));
            return open(ch);
        } catch (IOException e) {
            throw AmalgamException.io("cannot write the journal: " + e.getMessage(), Where.file(dir.resolve(FILE)),
                    "check free disk space", e);
        }
    }

    /** Continues an existing journal (after {@link #read}). */
    static Journal append(Path dir) {
        try {
            return open(FileChannel.open(dir.resolve(FILE), StandardOpenOption.WRITE, StandardOpenOption.APPEND));
        } catch (IOException e) {
            throw AmalgamException.io("cannot append to the journal: " + e.getMessage(), Where.file(dir.resolve(FILE)),
                    null, e);
        }
    }

    private static Journal open(FileChannel ch) {
        String pause = System.getProperty(PAUSE_PROPERTY);
        return new Journal(ch, pause == null ? -1 : Long.parseLong(pause));
    }

    /**
     * The finished tensors a journal lists (name → CRC-32C), or null when there is no journal or
     * it belongs to another plan. A torn last line is ignored.
     */
    static Map<String, Integer> read(Path dir, String fingerprint) {
        Path p = dir.resolve(FILE);
        if (!Files.isRegularFile(p)) {
            return null;
        }
        try {
            List<String> lines = Files.readAllLines(p, StandardCharsets.UTF_8);
            if (lines.isEmpty() || !lines.getFirst().equals(MAGIC + fingerprint)) {
                return null;
            }
            Map<String, Integer> done = new HashMap<>();
            for (String line : lines.subList(1, lines.size())) {
                int sp = line.indexOf(' ');
                if (sp == 8) {
                    try {
                        done.put(line.substring(9), Integer.parseUnsignedInt(line.substring(0, 8), 16));
                    } catch (NumberFormatException e) {
                        // a torn line from a crash mid-write: that tensor is simply computed again
                    }
                }
            }
            return done;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Starts the pause of the test hook, if it asks for one before any tensor. */
    void started() {
        maybePause();
    }

    /** Records one finished tensor. */
    synchronized void record(String tensor, int crc) {
        String line = String.format(Locale.ROOT, "%08x %s%n", crc, tensor);
        try {
            ByteBuffer b = ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                channel.write(b);
            }
        } catch (IOException e) {
            throw AmalgamException.io("cannot write the journal: " + e.getMessage(), Where.NONE,
                    "check free disk space", e);
        }
        recorded++;
        maybePause();
    }

    private void maybePause() {
        if (pauseAfter >= 0 && recorded >= pauseAfter) {
            System.err.println("amalgam: paused after " + recorded + " tensors (test hook " + PAUSE_PROPERTY + ")");
            System.err.flush();
            while (true) {
                try {
                    Thread.sleep(Long.MAX_VALUE);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // the journal only speeds up a later resume; losing its last line loses nothing
        }
    }

    /** A fingerprint of everything that decides the output bytes. */
    static String fingerprint(Plan plan, RunOptions options) {
        StringBuilder sb = new StringBuilder(MAGIC);
        sb.append(plan.recipe().sourceText()).append('\0').append(plan.method().name()).append('\0')
                .append(options.mergekitRng()).append('\0');
        Map<Path, String> stamps = new HashMap<>();
        for (Shard s : plan.shards()) {
            sb.append(s.fileName()).append('\n');
            for (OutputTensor t : s.tensors()) {
                sb.append(t.name()).append(' ').append(t.dtype()).append(' ')
                        .append(java.util.Arrays.toString(t.shape())).append(' ').append(t.copy()).append(' ')
                        .append(t.context().globals()).append(' ').append(t.context().perModel()).append(' ')
                        .append(t.context().seed()).append(' ').append(t.context().workDtype()).append('\n');
                for (Operand o : t.operands()) {
                    sb.append("  ").append(o.model()).append(' ').append(o.tensor().name()).append(' ')
                            .append(o.tensor().info().dtype());
                    for (Path f : o.tensor().files()) {
                        sb.append(' ').append(stamps.computeIfAbsent(f, Journal::stamp));
                    }
                    sb.append(' ').append(o.cropCols()).append(' ').append(o.rows() != null).append('\n');
                }
            }
        }
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(sb.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(h);
        } catch (NoSuchAlgorithmException e) {
            throw AmalgamException.internal("SHA-256 is missing from this JDK", e);
        }
    }

    private static String stamp(Path f) {
        try {
            return f.toAbsolutePath() + ":" + Files.size(f) + ":" + Files.getLastModifiedTime(f).toMillis();
        } catch (IOException e) {
            return f.toAbsolutePath() + ":?";
        }
    }
}
