package dev.amalgam.io;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Starts the disk writes of a file being written, so that they overlap the rest of the run
 * instead of all waiting for the final {@code fsync}: the io stage's writeback. Linux keeps
 * written pages dirty in memory until a tenth of memory or so is dirty (several gigabytes on a
 * machine that holds a model) or thirty seconds pass, so a shard of a few gigabytes would be
 * written to disk only when it is forced. Every {@link #KICK_BYTES} bytes handed to
 * {@link #wrote}, a daemon thread asks the kernel to start writing the file's dirty pages back
 * ({@code sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)}, which does not wait for the
 * writes); the writing threads never block on it. Off Linux, or where the call is not
 * available, it does nothing and the final force writes everything, as before. Durability is
 * unchanged: only {@code force} at the end promises anything.
 */
final class Writeback implements AutoCloseable {

    /** Written bytes between two requests. */
    static final long KICK_BYTES = 32L << 20;

    private static final int O_RDONLY_CLOEXEC = 0x80000;
    private static final int SYNC_FILE_RANGE_WRITE = 2;
    private static final Native NATIVE = Native.load();
    private static final ExecutorService KICKER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "amalgam-writeback");
        t.setDaemon(true);
        return t;
    });
    private static final Writeback NONE = new Writeback(-1);

    private final int fd;
    private final AtomicLong pending = new AtomicLong();
    private final AtomicBoolean queued = new AtomicBoolean();
    private boolean closed;
    private int requests;
    private int failures;

    private Writeback(int fd) {
        this.fd = fd;
    }

    /** A writeback for {@code path}, or one that does nothing where the system offers none. */
    static Writeback open(Path path) {
        if (NATIVE == null) {
            return NONE;
        }
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) NATIVE.open.invokeExact(arena.allocateFrom(path.toString()), O_RDONLY_CLOEXEC);
            return fd < 0 ? NONE : new Writeback(fd);
        } catch (Throwable t) {
            return NONE;
        }
    }

    /** Whether this platform starts writeback early (Linux with the call available). */
    static boolean available() {
        return NATIVE != null;
    }

    /** Counts {@code bytes} just written; now and then starts writing the file's dirty pages back. */
    void wrote(long bytes) {
        if (fd < 0 || pending.addAndGet(bytes) < KICK_BYTES) {
            return;
        }
        pending.set(0);
        if (queued.compareAndSet(false, true)) {
            KICKER.execute(this::kick);
        }
    }

    private synchronized void kick() {
        queued.set(false);
        if (closed) {
            return;
        }
        requests++;
        try {
            int rc = (int) NATIVE.syncFileRange.invokeExact(fd, 0L, 0L, SYNC_FILE_RANGE_WRITE);
            failures += rc == 0 ? 0 : 1;
        } catch (Throwable ignored) {
            // a hint only: the final force writes whatever this did not start
        }
    }

    /** How many writeback requests were made, and how many of them the kernel refused. */
    synchronized int[] counts() {
        return new int[] {requests, failures};
    }

    /** Closes the descriptor, after a request in progress has returned. */
    @Override
    public synchronized void close() {
        if (fd < 0 || closed) {
            return;
        }
        closed = true;
        try {
            int rc = (int) NATIVE.close.invokeExact(fd);
            assert rc == 0 || rc == -1 : rc;
        } catch (Throwable ignored) {
            // nothing was written through this descriptor: a failed close loses nothing
        }
    }

    /** The C library functions, bound once; null when they are not all there. */
    private record Native(MethodHandle open, MethodHandle syncFileRange, MethodHandle close) {
        static Native load() {
            if (!System.getProperty("os.name", "").startsWith("Linux")) {
                return null;
            }
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                Optional<MemorySegment> open = libc.find("open");
                Optional<MemorySegment> sfr = libc.find("sync_file_range");
                Optional<MemorySegment> close = libc.find("close");
                if (open.isEmpty() || sfr.isEmpty() || close.isEmpty()) {
                    return null;
                }
                return new Native(
                        linker.downcallHandle(open.get(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                                ValueLayout.ADDRESS, ValueLayout.JAVA_INT), Linker.Option.firstVariadicArg(2)),
                        linker.downcallHandle(sfr.get(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_INT)),
                        linker.downcallHandle(close.get(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_INT)));
            } catch (RuntimeException | LinkageError e) {
                return null;
            }
        }
    }
}
