package dev.amalgam.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writes one safetensors file whose header is known up front: the I/O stage's writer. The header
 * (every name, dtype, shape and byte range) is written when the file is created and the file is
 * sized to its final length; each tensor's bytes then go to their offset from any number of
 * threads, in any order and in pieces of any size, each thread's contiguous pieces a {@link Run}
 * staged in 4 MiB buffers that I/O threads write, whole blocks past the page cache where the file
 * system allows it ({@link StagedWrites}). No more than the staging pool is ever held: never a
 * tensor or a shard. What goes through the page cache starts its disk writes while the file is
 * being written ({@link Writeback}). {@link #whenWritten} tells when a tensor's bytes are in the
 * file; {@link #finish()} waits for the staged writes, checks that every byte of every tensor was
 * written and forces the file to disk.
 *
 * <p>The layout matches the reference Rust writer: {@code u64 header_len}, then compact JSON with
 * {@code __metadata__} first and the tensors in the given order, padded with spaces to a multiple
 * of 8 bytes, then the tensors' data, contiguous, in the given order.
 */
public final class SafetensorsWriter implements AutoCloseable {

    /**
     * One tensor to be written.
     *
     * @param name  tensor name
     * @param dtype element type
     * @param shape dimensions, outermost first (copied)
     */
    public record Entry(String name, DType dtype, long[] shape) {

        public Entry {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(dtype, "dtype");
            shape = shape.clone();
        }

        /** The dimensions (a copy). */
        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Bytes of data: product of the dimensions times the element size. */
        public long byteSize() {
            long n = dtype.byteSize();
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Entry e && name.equals(e.name) && dtype == e.dtype && Arrays.equals(shape, e.shape);
        }

        @Override
        public int hashCode() {
            return (name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return name + " " + dtype.safetensorsName() + " " + TensorInfo.shapeString(shape);
        }
    }

    /**
     * Whether writers may write whole blocks with {@code O_DIRECT} ({@link StagedWrites}); the
     * system property {@code amalgam.directWrites=false} sends every write through the page cache.
     */
    static final boolean DIRECT = !"false".equals(System.getProperty("amalgam.directWrites"));

    private static final JsonFactory JSON = new JsonFactory();

    private static final class Slot {
        final String name;
        final long fileStart;
        final long size;
        final AtomicLong written = new AtomicLong();
        /** Bytes in the file (not only staged); guarded by the slot. */
        long landed;
        /** Runs once every byte has landed; guarded by the slot. */
        Runnable whenLanded;

        Slot(String name, long fileStart, long size) {
            this.name = name;
            this.fileStart = fileStart;
            this.size = size;
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final Map<String, Slot> slots;
    private final Writeback writeback;
    private final StagedWrites staged;
    private volatile RuntimeException actionFailure;
    private volatile boolean finished;
    private volatile boolean closed;

    private SafetensorsWriter(Path path, FileChannel channel, Map<String, Slot> slots, boolean direct) {
        this.path = path;
        this.channel = channel;
        this.slots = slots;
        this.writeback = Writeback.open(path);
        this.staged = StagedWrites.open(path, channel, writeback, direct);
    }

    /** Whether whole blocks of this file go straight to the device ({@code O_DIRECT}). */
    public boolean directWrites() {
        return staged.direct();
    }

    /** Bytes written so far straight to the device, past the page cache. */
    public long directBytes() {
        return staged.directBytes();
    }

    /**
     * Creates {@code path} (never overwriting an existing file), writes the header and sizes the file
     * to its final length.
     *
     * @param entries  tensors, in the order their data is laid out
     * @param metadata the header's {@code __metadata__} (typically {@code {"format": "pt"}}); null or
     *                 empty writes none
     */
    public static SafetensorsWriter create(Path path, List<Entry> entries, Map<String, String> metadata) {
        return create(path, entries, metadata, DIRECT);
    }

    /** {@link #create}, with whole blocks written directly where the file system allows it ({@code direct}). */
    static SafetensorsWriter create(Path path, List<Entry> entries, Map<String, String> metadata, boolean direct) {
        byte[] header = header(path, entries, metadata);
        long dataStart = 8L + header.length;
        Map<String, Slot> slots = LinkedHashMap.newLinkedHashMap(entries.size());
        long offset = dataStart;
        for (Entry e : entries) {
            long size = e.byteSize();
            slots.put(e.name(), new Slot(e.name(), offset, size));
            offset += size;
        }
        long total = offset;
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (FileAlreadyExistsException e) {
            throw AmalgamException.io("'" + path + "' already exists; refusing to overwrite it", Where.file(path),
                    "remove the file or choose another output location", e);
        } catch (NoSuchFileException e) {
            throw AmalgamException.io("cannot create '" + path + "': its directory does not exist", Where.file(path),
                    "create the output directory first", e);
        } catch (AccessDeniedException e) {
            throw AmalgamException.io("permission denied creating '" + path + "'", Where.file(path),
                    "check the output directory's permissions", e);
        } catch (IOException e) {
            throw AmalgamException.io("cannot create '" + path + "': " + e.getMessage(), Where.file(path),
                    "check the output directory and free disk space", e);
        }
        try {
            ByteBuffer head = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(header.length); // u64 header_len
            head.put(header);            // header JSON, space-padded to a multiple of 8
            head.flip();
            writeFully(ch, head, 0);
            if (total > dataStart) {
                writeFully(ch, ByteBuffer.allocate(1), total - 1); // size the file to its final length
            }
        } catch (IOException e) {
            closeQuietly(ch);
            throw AmalgamException.io("cannot write the header of '" + path + "': " + e.getMessage(),
                    Where.file(path), "check free disk space", e);
        }
        return new SafetensorsWriter(path, ch, slots, direct);
    }

    /**
     * Reopens a file an interrupted run created with the same entries, to finish it: the file must
     * hold exactly the header {@link #create} would write and have the final length; otherwise
     * null (the caller starts that file afresh). No tensor counts as written until
     * {@link #markWritten} says so.
     */
    public static SafetensorsWriter reopen(Path path, List<Entry> entries, Map<String, String> metadata) {
        byte[] header = header(path, entries, metadata);
        long dataStart = 8L + header.length;
        Map<String, Slot> slots = LinkedHashMap.newLinkedHashMap(entries.size());
        long offset = dataStart;
        for (Entry e : entries) {
            slots.put(e.name(), new Slot(e.name(), offset, e.byteSize()));
            offset += e.byteSize();
        }
        FileChannel ch = null;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
            if (ch.size() != Math.max(offset, dataStart)) {
                closeQuietly(ch);
                return null;
            }
            ByteBuffer existing = ByteBuffer.allocate((int) dataStart).order(ByteOrder.LITTLE_ENDIAN);
            while (existing.hasRemaining() && ch.read(existing, existing.position()) >= 0) {
                // read the whole header
            }
            existing.flip();
            if (existing.remaining() != dataStart || existing.getLong() != header.length) {
                closeQuietly(ch);
                return null;
            }
            byte[] got = new byte[header.length];
            existing.get(got);
            if (!java.util.Arrays.equals(got, header)) {
                closeQuietly(ch);
                return null;
            }
            return new SafetensorsWriter(path, ch, slots, DIRECT);
        } catch (IOException e) {
            if (ch != null) {
                closeQuietly(ch);
            }
            return null;
        }
    }

    /** Records that a tensor's bytes are already in the file (verified by the caller). */
    public void markWritten(String name) {
        Slot slot = slots.get(name);
        if (slot == null) {
            throw AmalgamException.internal("tensor '" + name + "' is not in the header of " + path, null);
        }
        slot.written.set(slot.size);
        land(slot, slot.size);
    }

    /**
     * Runs {@code action} once every byte of tensor {@code name} is in the file (now, if it
     * already is), on the thread that wrote the last of them. An exception it throws is
     * reported by {@link #finish()}. Bytes that fail to be written never run it.
     */
    public void whenWritten(String name, Runnable action) {
        Slot s = slot(name);
        boolean now;
        synchronized (s) {
            now = s.landed == s.size;
            if (!now) {
                s.whenLanded = action;
            }
        }
        if (now) {
            action.run();
        }
    }

    private void land(Slot s, long bytes) {
        Runnable action = null;
        synchronized (s) {
            s.landed += bytes;
            if (s.landed == s.size && s.whenLanded != null) {
                action = s.whenLanded;
                s.whenLanded = null;
            }
        }
        if (action != null) {
            try {
                action.run();
            } catch (RuntimeException e) {
                if (actionFailure == null) {
                    actionFailure = e;
                }
            }
        }
    }

    /** The exact size in bytes of the file {@link #create} writes for these entries. */
    public static long fileSize(List<Entry> entries, Map<String, String> metadata) {
        long total = 8L + header(null, entries, metadata).length;
        for (Entry e : entries) {
            total = Math.addExact(total, e.byteSize());
        }
        return total;
    }

    /** The header JSON, padded with spaces to a multiple of 8 bytes. */
    static byte[] header(Path path, List<Entry> entries, Map<String, String> metadata) {
        Set<String> seen = new HashSet<>();
        for (Entry e : entries) {
            if (e.name().equals(SafetensorsFile.METADATA_KEY)) {
                throw AmalgamException.internal("a tensor may not be called " + SafetensorsFile.METADATA_KEY
                        + " (writing " + path + ")", null);
            }
            if (!seen.add(e.name())) {
                throw AmalgamException.internal("tensor '" + e.name() + "' appears twice (writing " + path + ")", null);
            }
            for (long d : e.shape) {
                if (d < 0) {
                    throw AmalgamException.internal("tensor '" + e.name() + "' has negative dimension in "
                            + TensorInfo.shapeString(e.shape) + " (writing " + path + ")", null);
                }
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(64 + 96 * entries.size());
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            if (metadata != null && !metadata.isEmpty()) {
                g.writeObjectFieldStart(SafetensorsFile.METADATA_KEY);
                for (Map.Entry<String, String> m : metadata.entrySet()) {
                    g.writeStringField(m.getKey(), m.getValue());
                }
                g.writeEndObject();
            }
            long offset = 0;
            for (Entry e : entries) {
                long end = Math.addExact(offset, e.byteSize());
                g.writeObjectFieldStart(e.name());
                g.writeStringField("dtype", e.dtype().safetensorsName());
                g.writeArrayFieldStart("shape");
                for (long d : e.shape) {
                    g.writeNumber(d);
                }
                g.writeEndArray();
                g.writeArrayFieldStart("data_offsets");
                g.writeNumber(offset);
                g.writeNumber(end);
                g.writeEndArray();
                g.writeEndObject();
                offset = end;
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int pad = (8 - out.size() % 8) % 8;
        for (int i = 0; i < pad; i++) {
            out.write(' ');
        }
        if (out.size() > SafetensorsFile.MAX_HEADER_BYTES) {
            throw AmalgamException.input(String.format(Locale.ROOT,
                            "safetensors header would be %d bytes, over the %d-byte limit readers accept",
                            out.size(), SafetensorsFile.MAX_HEADER_BYTES),
                    path == null ? Where.NONE : Where.file(path), "split the tensors over more shards");
        }
        return out.toByteArray();
    }

    /** The file being written. */
    public Path path() {
        return path;
    }

    /** Absolute offset in the file of the first byte of tensor {@code name}. */
    public long tensorFileOffset(String name) {
        return slot(name).fileStart;
    }

    /**
     * Writes {@code src}'s bytes to tensor {@code name}, starting {@code byteOffsetInTensor} bytes into
     * the tensor. Thread-safe; pieces may arrive in any order. The bytes are staged: they reach
     * the file by {@link #finish()}.
     */
    public void write(String name, long byteOffsetInTensor, MemorySegment src) {
        try (Run run = run(name, byteOffsetInTensor)) {
            run.write(src);
        }
    }

    /**
     * A run of contiguous writes to tensor {@code name} from {@code byteOffsetInTensor} on, for
     * one thread: each {@link Run#write} appends where the last one ended, into a staging buffer
     * that goes to the file when it is full and at {@link Run#close()}. Runs of any number of
     * threads may be open at once, on disjoint ranges.
     */
    public Run run(String name, long byteOffsetInTensor) {
        Slot s = slot(name);
        if (byteOffsetInTensor < 0 || byteOffsetInTensor > s.size) {
            throw AmalgamException.internal(String.format(Locale.ROOT,
                    "a write at byte %d of tensor '%s' falls outside its %d bytes (%s)",
                    byteOffsetInTensor, name, s.size, path), null);
        }
        checkFailure();
        return new Run(s, s.fileStart + byteOffsetInTensor);
    }

    /** Contiguous writes into one tensor; see {@link #run}. Not thread-safe; close it once done. */
    public final class Run implements AutoCloseable {
        private final Slot slot;
        private long pos;
        private MemorySegment buf;
        private long bufStart;
        private int from;
        private int fill;

        private Run(Slot slot, long pos) {
            this.slot = slot;
            this.pos = pos;
        }

        /** Appends {@code src}'s bytes. */
        public void write(MemorySegment src) {
            long n = src.byteSize();
            claim(n);
            for (long done = 0; done < n; ) {
                if (buf == null) {
                    start();
                }
                int k = (int) Math.min(StagedWrites.BUFFER - fill, n - done);
                MemorySegment.copy(src, done, buf, fill, k);
                fill += k;
                pos += k;
                done += k;
                if (fill == StagedWrites.BUFFER) {
                    submit();
                }
            }
        }

        /** The most bytes one {@link #next} hands out. */
        public long maxNext() {
            return StagedWrites.BUFFER - staged.block();
        }

        /**
         * The staging memory for the next {@code bytes} bytes of the run ({@link #maxNext()} at
         * most), to be filled in place — what saves encoding into a buffer of one's own and
         * copying it — before the next call on this run.
         */
        public MemorySegment next(long bytes) {
            if (bytes > maxNext()) {
                throw AmalgamException.internal(bytes + " bytes is more than one staged piece of '" + path
                        + "' holds (" + maxNext() + ")", null);
            }
            claim(bytes);
            if (buf != null && fill + bytes > StagedWrites.BUFFER) {
                submit();
            }
            if (buf == null) {
                start();
            }
            MemorySegment piece = buf.asSlice(fill, bytes);
            fill += (int) bytes;
            pos += bytes;
            return piece;
        }

        /** Checks that {@code n} more bytes fit the tensor and counts them as written. */
        private void claim(long n) {
            if (buf != null && fill == StagedWrites.BUFFER) {
                submit(); // filled by the last next()
            }
            if (pos - slot.fileStart > slot.size - n) {
                throw AmalgamException.internal(String.format(Locale.ROOT,
                        "write of %d bytes at byte %d of tensor '%s' falls outside its %d bytes (%s)",
                        n, pos - slot.fileStart, slot.name, slot.size, path), null);
            }
            if (slot.written.addAndGet(n) > slot.size) {
                throw AmalgamException.internal(String.format(Locale.ROOT,
                        "tensor '%s' received more than its %d bytes: some range was written twice (%s)",
                        slot.name, slot.size, path), null);
            }
            checkFailure();
        }

        /** A staging buffer whose byte 0 belongs at the block boundary at or below {@code pos}. */
        private void start() {
            buf = StagedWrites.acquire();
            bufStart = pos - pos % staged.block();
            from = (int) (pos - bufStart);
            fill = from;
        }

        /** Appends {@code src}'s remaining bytes; afterwards its position is at its limit. */
        public void write(ByteBuffer src) {
            write(MemorySegment.ofBuffer(src));
            src.position(src.limit());
        }

        private void submit() {
            MemorySegment b = buf;
            buf = null;
            int bytes = fill - from;
            staged.submit(slot.name, b, bufStart, from, fill, () -> land(slot, bytes));
        }

        /** Hands the staged rest of the run to the file. */
        @Override
        public void close() {
            if (buf != null) {
                if (fill > from) {
                    submit();
                } else {
                    StagedWrites.release(buf);
                    buf = null;
                }
            }
            checkFailure();
        }
    }

    /** Throws the first failed staged write, naming its tensor and position. */
    private void checkFailure() {
        RuntimeException a = actionFailure;
        if (a != null) {
            throw a;
        }
        StagedWrites.Failure f = staged.failure();
        if (f != null) {
            throw AmalgamException.io("cannot write tensor '" + f.tensor() + "' to '" + path + "': "
                            + f.cause().getMessage(), Where.offset(path, f.tensor(), f.position()),
                    "check free disk space", f.cause());
        }
    }

    /**
     * Writes {@code src}'s remaining bytes to tensor {@code name} at {@code byteOffsetInTensor};
     * afterwards {@code src}'s position is at its limit. Thread-safe.
     */
    public void write(String name, long byteOffsetInTensor, ByteBuffer src) {
        try (Run run = run(name, byteOffsetInTensor)) {
            run.write(src);
        }
    }

    /**
     * Checks that every tensor received all its bytes, forces the file to disk and closes it.
     *
     * @throws AmalgamException naming the first tensor that is incomplete; the file stays open and
     *                          {@link #close()} aborts it
     */
    public void finish() {
        for (Slot s : slots.values()) {
            long w = s.written.get();
            if (w != s.size) {
                throw new AmalgamException(AmalgamException.Kind.INTERNAL, String.format(Locale.ROOT,
                        "tensor '%s' was not completely written: %d of %d bytes", s.name, w, s.size),
                        Where.tensor(path, s.name), "this is a bug in Amalgam; please report it with --stacktrace output");
            }
        }
        staged.drain();
        checkFailure();
        staged.close();
        writeback.close();
        try {
            channel.force(true);
            channel.close();
        } catch (IOException e) {
            throw AmalgamException.io("cannot flush '" + path + "' to disk: " + e.getMessage(), Where.file(path),
                    "check free disk space and the disk's health", e);
        }
        finished = true;
        closed = true;
    }

    /** Aborts: closes the file if {@link #finish()} did not. Never deletes it; the caller owns cleanup. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            staged.drain();
            staged.close();
            writeback.close();
            closeQuietly(channel);
        }
    }

    /** True once {@link #finish()} has succeeded. */
    public boolean isFinished() {
        return finished;
    }

    private Slot slot(String name) {
        Slot s = slots.get(name);
        if (s == null) {
            throw AmalgamException.internal("tensor '" + name + "' is not in the header of " + path, null);
        }
        return s;
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        StagedWrites.writeFully(ch, buf, position);
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // the file is being abandoned; a second error would hide the first
        }
    }
}
