package dev.amalgam.io;

import dev.amalgam.error.AmalgamException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The writer's staged writes: runs of any alignment, across staging buffers, from several threads
 * at once, land byte for byte, with whole blocks written directly where the file system allows it
 * and everything through the page cache where it does not; a tensor counts as written only once
 * its bytes are in the file.
 */
class StagedWritesTest {

    @TempDir
    Path dir;

    private static final Map<String, String> PT = Map.of("format", "pt");

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            b[i] = (byte) r.nextInt();
        }
        return b;
    }

    private static byte[] read(Path p, long pos, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            while (b.hasRemaining() && ch.read(b, pos + b.position()) >= 0) {
                // read all of it
            }
        }
        return b.array();
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void unalignedRunsAcrossBuffersFromThreeThreadsLandByteForByte(boolean direct) throws Exception {
        Path p = dir.resolve("r.safetensors");
        // sizes no block divides, so every boundary between the tensors and the ranges is a partial block
        int big = 3 * StagedWrites.BUFFER + 12_345;
        int small = 4097 * 3 + 5;
        List<SafetensorsWriter.Entry> entries = List.of(
                new SafetensorsWriter.Entry("small", DType.U8, new long[] {small}),
                new SafetensorsWriter.Entry("big", DType.U8, new long[] {big}),
                new SafetensorsWriter.Entry("tail", DType.U8, new long[] {77}));
        byte[] a = random(small, 1);
        byte[] b = random(big, 2);
        byte[] c = random(77, 3);
        int[] cuts = {0, 1_000_001, 2 * StagedWrites.BUFFER + 3, big};
        try (SafetensorsWriter w = SafetensorsWriter.create(p, entries, PT, direct);
             ExecutorService pool = Executors.newFixedThreadPool(3)) {
            if (direct) {
                Assumptions.assumeTrue(w.directWrites(), "this file system takes no direct writes");
            } else {
                assertThat(w.directWrites()).isFalse();
            }
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                int from = cuts[t];
                int to = cuts[t + 1];
                long seed = t;
                fs.add(pool.submit(() -> {
                    SplittableRandom r = new SplittableRandom(seed);
                    try (SafetensorsWriter.Run run = w.run("big", from)) {
                        for (int at = from; at < to; ) {
                            int n = Math.min(to - at, 1 + r.nextInt(r.nextBoolean() ? 300 : 1_500_000));
                            run.write(MemorySegment.ofArray(b).asSlice(at, n));
                            at += n;
                        }
                    }
                }));
            }
            w.write("tail", 0, MemorySegment.ofArray(c));
            try (SafetensorsWriter.Run run = w.run("small", 0)) {
                for (int at = 0; at < small; at += 4096) {
                    run.write(MemorySegment.ofArray(a).asSlice(at, Math.min(4096, small - at)));
                }
            }
            for (Future<?> f : fs) {
                f.get();
            }
            w.finish();
            if (direct) {
                // all but the partial blocks at the runs' ends and the buffers' seams went direct
                assertThat(w.directBytes()).isGreaterThan(big - 64L * 4096);
            } else {
                assertThat(w.directBytes()).isZero();
            }
            assertThat(read(p, w.tensorFileOffset("small"), small)).isEqualTo(a);
            assertThat(read(p, w.tensorFileOffset("big"), big)).isEqualTo(b);
            assertThat(read(p, w.tensorFileOffset("tail"), 77)).isEqualTo(c);
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.tensors()).hasSize(3);
        }
    }

    @Test
    void piecesFilledInPlaceLandLikeCopies() throws Exception {
        Path p = dir.resolve("n.safetensors");
        int size = 2 * StagedWrites.BUFFER + 777;
        List<SafetensorsWriter.Entry> entries = List.of(
                new SafetensorsWriter.Entry("head", DType.U8, new long[] {3}),
                new SafetensorsWriter.Entry("x", DType.U8, new long[] {size}));
        byte[] data = random(size, 5);
        try (SafetensorsWriter w = SafetensorsWriter.create(p, entries, PT)) {
            w.write("head", 0, MemorySegment.ofArray(new byte[] {1, 2, 3}));
            try (SafetensorsWriter.Run run = w.run("x", 0)) {
                SplittableRandom r = new SplittableRandom(6);
                // a first piece that leaves less than a block of its staging buffer, then pieces that mostly do not fit the rest
                int first = (int) (run.maxNext() - (w.tensorFileOffset("x") % 4096));
                for (int at = 0; at < size; ) {
                    int n = at == 0 ? first : Math.min(size - at, 1 + r.nextInt((int) run.maxNext()));
                    if (r.nextInt(4) == 0) {
                        run.write(MemorySegment.ofArray(data).asSlice(at, n));
                    } else {
                        MemorySegment.copy(MemorySegment.ofArray(data), at, run.next(n), 0, n);
                    }
                    at += n;
                }
                assertThatThrownBy(() -> run.next(1)).hasMessageContaining("falls outside");
                assertThatThrownBy(() -> run.next(run.maxNext() + 1)).isInstanceOf(AmalgamException.class)
                        .hasMessageContaining("more than one staged piece");
            }
            w.finish();
            assertThat(read(p, w.tensorFileOffset("x"), size)).isEqualTo(data);
            assertThat(read(p, w.tensorFileOffset("head"), 3)).containsExactly(1, 2, 3);
        }
    }

    @Test
    void moreOpenRunsThanStagingBuffersAllFinish() throws Exception {
        int threads = 3 * StagedWrites.POOL;
        int each = StagedWrites.BUFFER + 99_999;
        Path p = dir.resolve("many.safetensors");
        List<SafetensorsWriter.Entry> entries = List.of(
                new SafetensorsWriter.Entry("x", DType.U8, new long[] {(long) threads * each}));
        byte[] data = random(threads * each, 9);
        try (SafetensorsWriter w = SafetensorsWriter.create(p, entries, PT);
             ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int from = t * each;
                fs.add(pool.submit(() -> {
                    try (SafetensorsWriter.Run run = w.run("x", from)) {
                        for (int at = from; at < from + each; at += 65_536) {
                            run.write(MemorySegment.ofArray(data).asSlice(at, Math.min(65_536, from + each - at)));
                        }
                    }
                }));
            }
            for (Future<?> f : fs) {
                f.get(60, TimeUnit.SECONDS);
            }
            w.finish();
            assertThat(read(p, w.tensorFileOffset("x"), data.length)).isEqualTo(data);
        }
    }

    @Test
    void whenWrittenRunsOnceTheBytesAreInTheFile() throws Exception {
        Path p = dir.resolve("w.safetensors");
        int n = StagedWrites.BUFFER + 5000;
        List<SafetensorsWriter.Entry> entries = List.of(
                new SafetensorsWriter.Entry("a", DType.U8, new long[] {n}),
                new SafetensorsWriter.Entry("empty", DType.U8, new long[] {0}));
        byte[] data = random(n, 4);
        AtomicReference<byte[]> seen = new AtomicReference<>();
        AtomicInteger empty = new AtomicInteger();
        try (SafetensorsWriter w = SafetensorsWriter.create(p, entries, PT)) {
            long at = w.tensorFileOffset("a");
            w.whenWritten("empty", empty::incrementAndGet);
            assertThat(empty).hasValue(1);
            try (SafetensorsWriter.Run run = w.run("a", 0)) {
                run.write(MemorySegment.ofArray(data).asSlice(0, 100));
                w.whenWritten("a", () -> {
                    try {
                        seen.set(read(p, at, n));
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                });
                run.write(MemorySegment.ofArray(data).asSlice(100, n - 100));
            }
            w.finish();
            assertThat(seen.get()).as("the bytes the action found in the file").isEqualTo(data);
            AtomicInteger later = new AtomicInteger();
            w.whenWritten("a", later::incrementAndGet);
            assertThat(later).as("registered after the bytes landed: runs at once").hasValue(1);
        }
    }

    @Test
    void aFailingActionIsReported() throws IOException {
        Path p = dir.resolve("f.safetensors");
        List<SafetensorsWriter.Entry> entries = List.of(new SafetensorsWriter.Entry("a", DType.U8, new long[] {10}));
        try (SafetensorsWriter w = SafetensorsWriter.create(p, entries, PT)) {
            w.whenWritten("a", () -> {
                throw AmalgamException.internal("the journal is gone", null);
            });
            // reported by the first call after the bytes landed: the write's close, or finish
            assertThatThrownBy(() -> {
                w.write("a", 0, MemorySegment.ofArray(new byte[10]));
                w.finish();
            }).isInstanceOf(AmalgamException.class).hasMessageContaining("the journal is gone");
        }
    }
}
