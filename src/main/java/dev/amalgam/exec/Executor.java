package dev.amalgam.exec;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.DType;
import dev.amalgam.io.SafetensorsWriter;
import dev.amalgam.kernel.Codec;
import dev.amalgam.method.Mt19937;
import dev.amalgam.method.Randomness;
import dev.amalgam.method.TensorMerge;
import dev.amalgam.output.OutputDirectory;
import dev.amalgam.output.OutputFiles;
import dev.amalgam.plan.Operand;
import dev.amalgam.plan.OutputTensor;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.Shard;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.zip.CRC32C;
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
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs a {@link Plan}: every output tensor is streamed from the memory-mapped inputs through
 * its method in float32 chunks and written straight to its offset in a pre-sized output shard;
 * then the rest of the directory is written and moved into place. Exec stage. Tensors run in
 * parallel on {@code threads} workers; memory per worker is a few chunks, whatever the size of
 * the tensor or the model.
 */
public final class Executor {

    private static final long COPY_BLOCK = 8L << 20;

    private Executor() {
    }

    /** Runs the plan into {@code out}. */
    public static RunSummary run(Plan plan, Path out, RunOptions options) {
        long start = System.nanoTime();
        try (OutputDirectory dir = OutputDirectory.begin(out, options.overwrite(), options.resume())) {
            List<String> notes = new ArrayList<>();
            if (dir.staleRemoved()) {
                notes.add("an interrupted merge into this directory was found and discarded (--resume keeps its "
                        + "finished tensors)");
            }
            String fingerprint = Journal.fingerprint(plan, options);
            Map<String, Integer> journaled = dir.resumed() ? Journal.read(dir.partial(), fingerprint) : null;
            if (dir.resumed() && journaled == null) {
                notes.add("the interrupted merge used another recipe, other options or other inputs; starting over");
                dir.restart();
            } else if (options.resume() && !dir.resumed()) {
                notes.add("no interrupted merge to resume; merging from the start");
            }
            checkFreeSpace(plan, dir, journaled != null);
            Map<String, SafetensorsWriter> writers = new HashMap<>();
            List<SafetensorsWriter> open = new ArrayList<>();
            AtomicLong read = new AtomicLong();
            Set<String> kept = new HashSet<>();
            NumericGuard guard = new NumericGuard();
            try {
                for (Shard s : plan.shards()) {
                    List<SafetensorsWriter.Entry> entries = new ArrayList<>();
                    for (OutputTensor t : s.tensors()) {
                        entries.add(new SafetensorsWriter.Entry(t.name(), t.dtype(), t.shape()));
                    }
                    Path file = dir.partial().resolve(s.fileName());
                    SafetensorsWriter w = journaled == null ? null
                            : SafetensorsWriter.reopen(file, entries, Map.of("format", "pt"));
                    if (w != null) {
                        for (OutputTensor t : s.tensors()) {
                            Integer crc = journaled.get(t.name());
                            if (crc != null && crc == checksum(file, w.tensorFileOffset(t.name()), t.byteSize())) {
                                w.markWritten(t.name());
                                kept.add(t.name());
                            }
                        }
                    } else {
                        deleteIfExists(file);
                        w = SafetensorsWriter.create(file, entries, Map.of("format", "pt"));
                    }
                    open.add(w);
                    for (OutputTensor t : s.tensors()) {
                        writers.put(t.name(), w);
                    }
                }
                if (!kept.isEmpty()) {
                    notes.add("resumed: kept " + kept.size() + " finished tensor(s) of the interrupted merge");
                }
                try (Journal journal = journaled != null ? Journal.append(dir.partial())
                        : Journal.create(dir.partial(), fingerprint)) {
                    options.listener().started(plan.tensors().size(), plan.bytesToWrite());
                    journal.started();
                    try {
                        runTensors(plan, writers, options, read, kept, journal, guard);
                        for (SafetensorsWriter w : open) {
                            w.finish();
                        }
                    } finally {
                        // writes still in flight journal their tensors as they land: before the journal closes
                        open.forEach(SafetensorsWriter::close);
                    }
                }
            } finally {
                open.forEach(SafetensorsWriter::close);
            }
            options.listener().tensorsFinished();
            List<String> numeric = guard.findings();
            if (options.strict() && !numeric.isEmpty()) {
                throw new AmalgamException(AmalgamException.Kind.NUMERIC, "the merge produced non-finite values: "
                        + numeric.getFirst() + (numeric.size() > 1 ? " (and " + (numeric.size() - 1) + " more)" : ""),
                        Where.NONE, "the inputs had none there; check the method's parameters (--strict refuses such "
                        + "output; without it the model is written with a warning)");
            }
            String title = dir.target().getFileName().toString();
            List<String> tok = OutputFiles.write(plan, dir.partial(), title, options.copyTokenizer(),
                    options.writeModelCard());
            dir.commit();
            int copied = (int) plan.tensors().stream().filter(OutputTensor::copy).count();
            List<String> unused = new ArrayList<>();
            plan.unused().forEach((m, l) -> l.forEach(n -> unused.add(m + ": " + n)));
            return new RunSummary(dir.target(), plan.tensors().size(), plan.tensors().size() - copied, copied,
                    read.get(), plan.bytesToWrite(), System.nanoTime() - start, peakRss(), tok, List.copyOf(unused),
                    plan.usesRandomness() ? plan.seed() : null, kept.size(), numeric, List.copyOf(notes));
        }
    }

    /** Refuses to start when the output's file system cannot hold the tensor files. */
    private static void checkFreeSpace(Plan plan, OutputDirectory dir, boolean resuming) {
        long need = 0;
        for (Shard s : plan.shards()) {
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            for (OutputTensor t : s.tensors()) {
                entries.add(new SafetensorsWriter.Entry(t.name(), t.dtype(), t.shape()));
            }
            need += SafetensorsWriter.fileSize(entries, Map.of("format", "pt"));
        }
        try {
            long free = Files.getFileStore(dir.partial()).getUsableSpace();
            if (!resuming && free < need) {
                throw AmalgamException.io(String.format(Locale.ROOT,
                                "not enough free disk space for the output: it needs %,d bytes, %,d are free", need,
                                free), Where.file(dir.target()),
                        "free some space or write the output to another disk; nothing was written", null);
            }
        } catch (IOException e) {
            // the free space cannot be read on this file system: the writes themselves will report a full disk
        }
    }

    private static int checksum(Path file, long offset, long size) {
        CRC32C crc = new CRC32C();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            long pos = offset;
            long end = offset + size;
            while (pos < end) {
                buf.clear().limit((int) Math.min(buf.capacity(), end - pos));
                int n = ch.read(buf, pos);
                if (n < 0) {
                    return ~0;
                }
                buf.flip();
                crc.update(buf);
                pos += n;
            }
            return (int) crc.getValue();
        } catch (IOException e) {
            return ~0;
        }
    }

    private static void deleteIfExists(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            throw AmalgamException.io("cannot remove " + p + ": " + e.getMessage(), Where.file(p), null, e);
        }
    }

    /**
     * One range of one tensor, and the tally its tensor's pieces share; {@code merge} is null
     * until the worker prepares it (merges hold histograms and row buffers, so only the ones
     * running exist at a time).
     */
    record Piece(OutputTensor t, TensorMerge merge, long from, long to, int index, Tally tally) {
    }

    /**
     * What a range produced: the CRC-32C of its bytes, the non-finite values in and out, and
     * how many times its merge read the inputs.
     */
    record RangeResult(int crc, long badIn, long badOut, int reads) {
    }

    /** The pieces of one tensor: their results, in order, until the last one finishes. */
    static final class Tally {
        private final RangeResult[] results;
        private final long[] bytes;
        private int left;

        Tally(int pieces) {
            this.results = new RangeResult[pieces];
            this.bytes = new long[pieces];
            this.left = pieces;
        }

        /** Records piece i; true for the tensor's last piece. */
        synchronized boolean done(int i, RangeResult r, long byteLength) {
            results[i] = r;
            bytes[i] = byteLength;
            return --left == 0;
        }

        /** The tensor's result: the pieces' checksums joined in order, their counts summed. */
        synchronized RangeResult total() {
            int crc = results[0].crc();
            long in = results[0].badIn();
            long out = results[0].badOut();
            for (int i = 1; i < results.length; i++) {
                crc = Crc32c.combine(crc, results[i].crc(), bytes[i]);
                in += results[i].badIn();
                out += results[i].badOut();
            }
            return new RangeResult(crc, in, out, results[0].reads());
        }
    }

    private static void runTensors(Plan plan, Map<String, SafetensorsWriter> writers, RunOptions options,
                                   AtomicLong read, Set<String> kept, Journal journal, NumericGuard guard) {
        int threads = Math.max(1, options.threads());
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "amalgam-worker");
            t.setDaemon(true);
            return t;
        });
        try {
            Map<OutputTensor, Mt19937> streams = options.mergekitRng() ? mergekitStreams(plan) : Map.of();
            List<Future<?>> futures = new ArrayList<>();
            for (OutputTensor t : plan.tensors()) {
                if (kept.contains(t.name())) {
                    options.listener().tensorDone(t);
                    continue;
                }
                Mt19937 stream = streams.get(t);
                for (Piece p : pieces(plan, t, threads, options.pieceElements(), stream)) {
                    futures.add(pool.submit(() -> {
                        SafetensorsWriter w = writers.get(t.name());
                        RangeResult r = stream == null ? mergeRange(plan, p, w, options.chunkElements())
                                : ScopedValue.where(Randomness.MERGEKIT, stream).call(
                                        () -> mergeRange(plan, p, w, options.chunkElements()));
                        if (p.tally().done(p.index(), r, (p.to() - p.from()) * t.dtype().byteSize())) {
                            RangeResult total = p.tally().total();
                            guard.record(t.name(), total.badIn(), total.badOut());
                            read.addAndGet(t.bytesRead() * total.reads());
                            release(t);
                            // journaled once its bytes are in the file, not only staged for it
                            w.whenWritten(t.name(), () -> journal.record(t.name(), total.crc()));
                            options.listener().tensorDone(t);
                        }
                        return null;
                    }));
                }
            }
            for (Future<?> f : futures) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    futures.forEach(x -> x.cancel(true));
                    Throwable c = e.getCause();
                    if (c instanceof AmalgamException ae) {
                        throw ae;
                    }
                    throw AmalgamException.internal("merging failed: " + c, c);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw AmalgamException.io("interrupted", Where.NONE, null, e);
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * The pieces {@code t} is merged in: one, or, for a tensor of more than {@code piece} elements
     * whose merge computes every chunk from its inputs and offset alone
     * ({@link TensorMerge#splittable()}), with several workers, ranges of about {@code piece}
     * elements (whole rows when the merge works on rows), each with its own merge.
     */
    static List<Piece> pieces(Plan plan, OutputTensor t, int threads, long piece, Mt19937 stream) {
        long numel = t.numel();
        if (threads < 2 || numel <= piece || stream != null) {
            return List.of(new Piece(t, null, 0, numel, 0, new Tally(1)));
        }
        TensorMerge first = prepare(plan, t);
        if (!first.splittable()) {
            return List.of(new Piece(t, first, 0, numel, 0, new Tally(1)));
        }
        long unit = first.rowAligned() ? Math.max(1, t.context().rowLength()) : 1;
        long step = Math.max(unit, piece / unit * unit);
        int count = Math.toIntExact((numel + step - 1) / step);
        Tally tally = new Tally(count);
        List<Piece> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long from = i * step;
            out.add(new Piece(t, i == 0 ? first : null, from, Math.min(numel, from + step), i, tally));
        }
        return out;
    }

    private static TensorMerge prepare(Plan plan, OutputTensor t) {
        try {
            return t.copy() ? TensorMerge.IDENTITY : plan.method().prepare(t.context());
        } catch (AmalgamException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new AmalgamException(AmalgamException.Kind.INTERNAL, "preparing " + t.name() + " failed: " + e,
                    Where.tensor(null, t.name()), "this is a bug in Amalgam; please report it", e);
        }
    }

    /** Lets go of the mapped pages of a finished tensor's inputs: the page cache keeps them, the process does not. */
    private static void release(OutputTensor t) {
        for (Operand op : t.operands()) {
            op.tensor().release();
        }
    }

    /**
     * The MT19937 state at each random tensor's first word, as mergekit consumes one seeded
     * stream: tensors in name order (the plan's order), each drawing its method's word count.
     * With these snapshots the tensors can still run in parallel.
     */
    static Map<OutputTensor, Mt19937> mergekitStreams(Plan plan) {
        Map<OutputTensor, Mt19937> out = new HashMap<>();
        Mt19937 gen = null;
        for (OutputTensor t : plan.tensors()) {
            long words = t.copy() ? 0 : plan.method().randomWords(t.context());
            if (words > 0) {
                if (gen == null) {
                    gen = new Mt19937(t.context().seed());
                }
                out.put(t, gen.copy());
                gen.skip(words);
            }
        }
        return out;
    }

    /**
     * Merges elements {@code [from, to)} of a tensor (the whole tensor for a merge with measuring
     * passes), writes them at their offset, and returns their checksum and non-finite counts.
     */
    private static RangeResult mergeRange(Plan plan, Piece p, SafetensorsWriter w, int chunk) {
        OutputTensor t = p.t();
        CRC32C crc = new CRC32C();
        int esz = t.dtype().byteSize();
        try {
            if (t.copy() && t.operands().getFirst().tensor().stored()) {
                MemorySegment src = t.operands().getFirst().tensor().data();
                long end = p.to() * esz;
                try (SafetensorsWriter.Run run = w.run(t.name(), p.from() * esz)) {
                    for (long off = p.from() * esz; off < end; off += COPY_BLOCK) {
                        long len = Math.min(COPY_BLOCK, end - off);
                        MemorySegment piece = src.asSlice(off, len);
                        run.write(piece);
                        crc.update(piece.asByteBuffer());
                    }
                }
                return new RangeResult((int) crc.getValue(), 0, 0, 1);
            }
            TensorMerge m = p.merge() != null ? p.merge() : prepare(plan, t);
            List<Operand> ops = t.operands();
            int n = ops.size();
            long numel = t.numel();
            int size = (int) Math.min(chunk, Math.max(1, p.to() - p.from()));
            if (m.rowAligned()) {
                long row = Math.max(1, t.context().rowLength());
                size = (int) Math.max(row, size / row * row);
            }
            float[][] in = new float[n][size];
            float[] out = new float[size];
            DType work = t.context().workDtype();
            RowReader[] rows = new RowReader[n];
            for (int k = 0; k < n; k++) {
                if (ops.get(k).rows() != null) {
                    rows[k] = new RowReader(ops.get(k).rows(), work, t.shape()[1]);
                }
            }
            for (int pass = 0; pass < m.measuringPasses(); pass++) {
                for (long off = 0; off < numel; off += size) {
                    int len = (int) Math.min(size, numel - off);
                    for (int k = 0; k < n; k++) {
                        read(ops.get(k), rows[k], t.shape(), work, off, len, in[k]);
                    }
                    m.measure(pass, in, len, off);
                }
                m.endPass(pass);
            }
            long badIn = 0;
            long badOut = 0;
            try (Arena arena = Arena.ofConfined(); SafetensorsWriter.Run run = w.run(t.name(), p.from() * esz)) {
                // chunks are encoded straight into the writer's staging memory where one fits
                boolean inPlace = (long) size * esz <= run.maxNext();
                MemorySegment buf = inPlace ? null : arena.allocate((long) size * esz);
                for (long off = p.from(); off < p.to(); off += size) {
                    int len = (int) Math.min(size, p.to() - off);
                    for (int k = 0; k < n; k++) {
                        read(ops.get(k), rows[k], t.shape(), work, off, len, in[k]);
                    }
                    m.apply(in, len, off, out);
                    long bad = NumericGuard.nonFinite(out, len);
                    if (bad > 0) {
                        badOut += bad;
                        for (int k = 0; k < n; k++) {
                            badIn += NumericGuard.nonFinite(in[k], len);
                        }
                    }
                    MemorySegment piece = inPlace ? run.next((long) len * esz) : buf.asSlice(0, (long) len * esz);
                    Codec.encode(t.dtype(), out, 0, len, piece, 0);
                    if (!inPlace) {
                        run.write(piece);
                    }
                    crc.update(piece.asByteBuffer());
                }
            }
            return new RangeResult((int) crc.getValue(), badIn, badOut, 1 + m.measuringPasses());
        } catch (AmalgamException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new AmalgamException(AmalgamException.Kind.INTERNAL, "merging " + t.name() + " failed: " + e,
                    Where.tensor(null, t.name()), "this is a bug in Amalgam; please report it", e);
        }
    }

    /**
     * Reads elements {@code [off, off+len)} of an operand as working-dtype values. A cropped
     * operand (an embedding matrix wider than the output) is read row by row; a re-indexed one
     * (a vocabulary matrix of a built tokenizer) through its {@code rows} reader. A derived input
     * tensor (a LoRA-adapted weight, fused experts) computes its values as it is read.
     */
    static void read(Operand op, RowReader rows, long[] outShape, DType work, long off, int len, float[] dst) {
        if (rows != null) {
            rows.read(off, len, dst);
            return;
        }
        DType stored = op.tensor().info().dtype();
        if (!op.cropped()) {
            op.tensor().read(off, len, dst, 0);
        } else {
            long cols = outShape[1];
            long srcCols = op.tensor().info().shape()[1];
            int done = 0;
            while (done < len) {
                long e = off + done;
                long row = e / cols;
                long col = e % cols;
                int piece = (int) Math.min(len - done, cols - col);
                op.tensor().read(row * srcCols + col, piece, dst, done);
                done += piece;
            }
        }
        if (stored != work && work != DType.F32 && work != DType.F64) {
            Codec.round(work, dst, 0, len);
        }
    }

    /** Peak resident set size of this process (VmHWM), or -1 off Linux. */
    public static long peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
