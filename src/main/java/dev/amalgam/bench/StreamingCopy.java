package dev.amalgam.bench;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.SafetensorsWriter;
import dev.amalgam.plan.Operand;
import dev.amalgam.plan.OutputTensor;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.Shard;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The physical floor of a merge: a plain streaming copy that reads every input byte the plan reads,
 * once, and writes as many output bytes as the plan writes, then forces them to disk. Bench stage.
 * It uses the executor's I/O primitives — the plan's memory-mapped input tensors and
 * {@link SafetensorsWriter}'s positional writes and {@code force} — and its parallelism (whole
 * tensors on {@code threads} workers), and does no arithmetic: the first operand's bytes go
 * straight from the mapping to the output, the other operands are copied into a scratch block.
 */
public final class StreamingCopy {

    /** Bytes handed to one read or write, the executor's copy block. */
    static final long BLOCK = 8L << 20;

    private StreamingCopy() {
    }

    /**
     * Copies {@code plan}'s input bytes into safetensors files in {@code outDir} (created; it must not
     * exist) and returns {bytes read, bytes written}.
     */
    public static long[] run(Plan plan, Path outDir, int threads) {
        try {
            Files.createDirectories(outDir);
        } catch (IOException e) {
            throw AmalgamException.io("cannot create '" + outDir + "': " + e.getMessage(), Where.file(outDir),
                    "check the benchmark cache (--cache)", e);
        }
        Map<String, SafetensorsWriter> writers = new HashMap<>();
        List<SafetensorsWriter> open = new ArrayList<>();
        long read = 0;
        long written = 0;
        try {
            for (Shard s : plan.shards()) {
                List<SafetensorsWriter.Entry> entries = new ArrayList<>();
                for (OutputTensor t : s.tensors()) {
                    entries.add(new SafetensorsWriter.Entry(t.name(), t.dtype(), t.shape()));
                    read += t.bytesRead();
                    written += t.byteSize();
                }
                SafetensorsWriter w = SafetensorsWriter.create(outDir.resolve(s.fileName()), entries, null);
                open.add(w);
                for (OutputTensor t : s.tensors()) {
                    writers.put(t.name(), w);
                }
            }
            copyAll(plan, writers, Math.max(1, threads));
            for (SafetensorsWriter w : open) {
                w.finish();
            }
        } finally {
            open.forEach(SafetensorsWriter::close);
        }
        return new long[] {read, written};
    }

    private static void copyAll(Plan plan, Map<String, SafetensorsWriter> writers, int threads) {
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "amalgam-copy");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (OutputTensor t : plan.tensors()) {
                futures.add(pool.submit(() -> {
                    copy(t, writers.get(t.name()));
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } catch (ExecutionException e) {
            if (e.getCause() instanceof AmalgamException ae) {
                throw ae;
            }
            throw AmalgamException.internal("streaming copy failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw AmalgamException.io("interrupted", Where.NONE, null, e);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Reads every operand of {@code t} once and writes {@code t.byteSize()} bytes. */
    static void copy(OutputTensor t, SafetensorsWriter w) {
        long outBytes = t.byteSize();
        long done = 0;
        long largest = 0;
        for (Operand op : t.operands()) {
            largest = Math.max(largest, op.tensor().data().byteSize());
        }
        try (Arena arena = Arena.ofConfined(); SafetensorsWriter.Run run = w.run(t.name(), 0)) {
            MemorySegment scratch = arena.allocate(Math.max(1, Math.min(BLOCK, Math.max(largest, outBytes))));
            boolean first = true;
            for (Operand op : t.operands()) {
                MemorySegment src = op.tensor().data();
                for (long off = 0; off < src.byteSize(); off += BLOCK) {
                    long len = Math.min(BLOCK, src.byteSize() - off);
                    if (first && done < outBytes) {
                        long n = Math.min(len, outBytes - done);
                        run.write(src.asSlice(off, n));
                        done += n;
                        if (n < len) {
                            MemorySegment.copy(src, off + n, scratch, 0, len - n);
                        }
                    } else {
                        MemorySegment.copy(src, off, scratch, 0, len);
                    }
                }
                first = false;
            }
            while (done < outBytes) {
                long n = Math.min(scratch.byteSize(), outBytes - done);
                run.write(scratch.asSlice(0, n));
                done += n;
            }
        }
    }
}
