package dev.amalgam.io;

import com.sun.nio.file.ExtendedOpenOption;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The write-behind of one file's data: the io stage's staged writes. Writers append runs of
 * contiguous bytes into staging buffers of {@link #BUFFER} bytes, each aligned to the file's
 * block size; a full buffer (or the end of a run) goes to one of {@link #IO_THREADS} I/O threads,
 * which writes its whole blocks with {@code O_DIRECT}, straight from the buffer to the device,
 * and its partial first and last blocks through the page cache. A partial block is shared with
 * the neighbouring run (another tensor, another worker's range, the header), and only the page
 * cache merges two writers' bytes into one block; no block is ever written both ways.
 *
 * <p>Why: a buffered write copies every byte into freshly allocated page-cache pages, and on
 * the virtual machines this project runs on the first touch of such a page costs far more than
 * the copy (a 2 GB buffered write and fsync: 3.9 s of system CPU; the same bytes direct, in
 * 4 MiB writes: 0.13 s), and two threads writing one file also spin on its inode lock. Direct
 * writes cost the merge's cores almost nothing and leave the page cache to the inputs.
 *
 * <p>Where the file system refuses {@code O_DIRECT} (at open, or on a write), everything goes
 * through the page cache, as before. Buffers come from one pool for the process ({@link #POOL}
 * at most), so memory stays bounded whatever the number of files and writers; a writer waits
 * for a free buffer when the I/O threads fall behind. The first failed write is kept and
 * reported by the next append, close or {@link #drain}.
 */
final class StagedWrites {

    /** Bytes per staging buffer, and so the largest single write. */
    static final int BUFFER = 4 << 20;
    /** The alignment of the staging buffers: the largest block size direct writes are used for. */
    static final int ALIGN = 64 << 10;
    /** Staging buffers in the process: enough for every core to fill one while others are written. */
    static final int POOL = Math.clamp(Runtime.getRuntime().availableProcessors() + 4L, 6, 32);
    static final int IO_THREADS = 2;

    private static final BlockingQueue<MemorySegment> FREE = new ArrayBlockingQueue<>(POOL);
    private static final AtomicInteger ALLOCATED = new AtomicInteger();
    private static final ExecutorService IO = Executors.newFixedThreadPool(IO_THREADS, r -> {
        Thread t = new Thread(r, "amalgam-io");
        t.setDaemon(true);
        return t;
    });

    /** A write that failed: where, and why. */
    record Failure(String tensor, long position, IOException cause) {
    }

    private final FileChannel buffered;
    private final Writeback writeback;
    private final int block;
    private volatile FileChannel direct;
    private volatile Failure failure;
    private int pending;
    private long directBytes;

    private StagedWrites(FileChannel buffered, FileChannel direct, int block, Writeback writeback) {
        this.buffered = buffered;
        this.direct = direct;
        this.block = block;
        this.writeback = writeback;
    }

    /**
     * Staged writes to {@code path}, already open for buffered writes as {@code buffered}; direct
     * writes where the file system takes them ({@code allowDirect}) and its block size divides
     * {@link #ALIGN}.
     */
    static StagedWrites open(Path path, FileChannel buffered, Writeback writeback, boolean allowDirect) {
        FileChannel direct = null;
        int block = 4096;
        if (allowDirect) {
            try {
                long b = Math.max(4096, Files.getFileStore(path).getBlockSize());
                if (Long.bitCount(b) == 1 && b <= ALIGN) {
                    block = (int) b;
                    direct = FileChannel.open(path, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
                }
            } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
                direct = null; // no direct I/O here: the page cache takes every write
            }
        }
        return new StagedWrites(buffered, direct, block, writeback);
    }

    /** Whether whole blocks still go straight to the device. */
    boolean direct() {
        return direct != null;
    }

    /** Bytes written directly so far (for tests and the bench). */
    synchronized long directBytes() {
        return directBytes;
    }

    int block() {
        return block;
    }

    /** The first failed write, or null. */
    Failure failure() {
        return failure;
    }

    /** A staging buffer from the pool, waiting for one when all are in use. */
    static MemorySegment acquire() {
        MemorySegment b = FREE.poll();
        if (b != null) {
            return b;
        }
        if (ALLOCATED.incrementAndGet() <= POOL) {
            return Arena.global().allocate(BUFFER, ALIGN);
        }
        ALLOCATED.decrementAndGet();
        try {
            return FREE.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw AmalgamException.io("interrupted while waiting for a write buffer", Where.NONE, null, e);
        }
    }

    static void release(MemorySegment b) {
        if (!FREE.offer(b)) {
            throw AmalgamException.internal("a write buffer was released twice", null);
        }
    }

    /**
     * Hands bytes {@code [from, to)} of {@code buf}, whose byte 0 belongs at file position
     * {@code start} (a multiple of the block size), to an I/O thread, which releases the buffer
     * and, once the bytes are in the file, runs {@code landed}.
     */
    void submit(String tensor, MemorySegment buf, long start, int from, int to, Runnable landed) {
        synchronized (this) {
            pending++;
        }
        IO.execute(() -> {
            try {
                if (failure == null) {
                    write(buf, start, from, to);
                    landed.run();
                }
            } catch (IOException e) {
                synchronized (this) {
                    if (failure == null) {
                        failure = new Failure(tensor, start + from, e);
                    }
                }
            } finally {
                release(buf);
                synchronized (this) {
                    pending--;
                    notifyAll();
                }
            }
        });
    }

    /** Waits until every submitted write has been done (or has failed). */
    synchronized void drain() {
        boolean interrupted = false;
        while (pending > 0) {
            try {
                wait();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void write(MemorySegment buf, long start, int from, int to) throws IOException {
        FileChannel d = direct;
        int a = (from + block - 1) / block * block;
        int b = to / block * block;
        if (d == null || a >= b) {
            buffered(buf, start, from, to);
            return;
        }
        buffered(buf, start, from, a);
        try {
            writeFully(d, buf.asSlice(a, b - a).asByteBuffer(), start + a);
            synchronized (this) {
                directBytes += b - a;
            }
        } catch (IOException e) {
            // the file system refused this direct write: this and every later write go buffered
            direct = null;
            buffered(buf, start, a, b);
        }
        buffered(buf, start, b, to);
    }

    private void buffered(MemorySegment buf, long start, int from, int to) throws IOException {
        if (to > from) {
            writeFully(buffered, buf.asSlice(from, to - from).asByteBuffer(), start + from);
            writeback.wrote(to - from);
        }
    }

    static void writeFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            pos += ch.write(buf, pos);
        }
    }

    /** Closes the direct descriptor (after {@link #drain}); the buffered one is the owner's. */
    void close() {
        FileChannel d = direct;
        direct = null;
        if (d != null) {
            try {
                d.close();
            } catch (IOException ignored) {
                // nothing is pending on it: every write through it has returned
            }
        }
    }
}
