package dev.amalgam.io;

import dev.amalgam.error.AmalgamException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsWriterTest {

    @TempDir
    Path dir;

    private static final Map<String, String> PT = Map.of("format", "pt");

    @Test
    void headerIsCompactJsonPaddedWithSpacesToAMultipleOf8() throws IOException {
        Path p = dir.resolve("h.safetensors");
        List<SafetensorsWriter.Entry> entries = List.of(new SafetensorsWriter.Entry("x", DType.F16, new long[] {3}));
        try (SafetensorsWriter w = SafetensorsWriter.create(p, entries, PT)) {
            w.write("x", 0, ByteBuffer.allocate(6));
            w.finish();
        }
        byte[] b = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(b, 8, (int) n, StandardCharsets.UTF_8);
        assertThat(n % 8).isZero();
        assertThat(header.stripTrailing())
                .isEqualTo("{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]}}");
        assertThat(header.substring(header.stripTrailing().length())).matches(" *");
        assertThat(b.length).isEqualTo(8 + n + 6);
        assertThat(SafetensorsWriter.fileSize(entries, PT)).isEqualTo(b.length);
    }

    @Test
    void noMetadataWritesNoMetadataKey() throws IOException {
        Path p = dir.resolve("n.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(), null)) {
            w.finish();
        }
        byte[] b = Files.readAllBytes(p);
        assertThat(new String(b, 8, b.length - 8, StandardCharsets.UTF_8)).isEqualTo("{}      ");
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.tensors()).isEmpty();
        }
    }

    @Test
    void fileIsSizedToItsFinalLengthAtCreation() throws IOException {
        Path p = dir.resolve("s.safetensors");
        List<SafetensorsWriter.Entry> entries = List.of(
                new SafetensorsWriter.Entry("a", DType.F32, new long[] {100, 10}),
                new SafetensorsWriter.Entry("b", DType.BF16, new long[] {7}));
        try (SafetensorsWriter w = SafetensorsWriter.create(p, entries, PT)) {
            assertThat(Files.size(p)).isEqualTo(SafetensorsWriter.fileSize(entries, PT));
            assertThat(w.tensorFileOffset("b") - w.tensorFileOffset("a")).isEqualTo(4000);
        }
    }

    @Test
    void outOfOrderPositionalWritesFromTwoThreads() throws Exception {
        Path p = dir.resolve("t.safetensors");
        int rows = 257;
        int cols = 33;
        List<SafetensorsWriter.Entry> entries = List.of(
                new SafetensorsWriter.Entry("m", DType.F32, new long[] {rows, cols}),
                new SafetensorsWriter.Entry("v", DType.I16, new long[] {cols}));
        SplittableRandom rnd = new SplittableRandom(7);
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) rnd.nextGaussian();
        }
        List<Integer> order = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            order.add(r);
        }
        Collections.shuffle(order, new java.util.Random(7));
        try (SafetensorsWriter w = SafetensorsWriter.create(p, entries, PT);
             ExecutorService pool = Executors.newFixedThreadPool(2)) {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int start = t;
                fs.add(pool.submit(() -> {
                    for (int k = start; k < rows; k += 2) {
                        int r = order.get(k);
                        // a float[]-backed heap segment: the writer must stage it
                        MemorySegment row = MemorySegment.ofArray(values).asSlice(4L * r * cols, 4L * cols);
                        w.write("m", 4L * r * cols, row);
                    }
                }));
            }
            ByteBuffer v = ByteBuffer.allocate(2 * cols).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < cols; i++) {
                v.putShort((short) (i - 10));
            }
            v.flip();
            w.write("v", 2L * 16, v.slice(2 * 16, 2 * (cols - 16)));
            w.write("v", 0, v.slice(0, 2 * 16));
            for (Future<?> f : fs) {
                f.get();
            }
            w.finish();
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            MemorySegment m = f.data(f.tensor("m"));
            for (int i = 0; i < values.length; i++) {
                assertThat(m.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i))
                        .isEqualTo(values[i]);
            }
            MemorySegment v = f.data(f.tensor("v"));
            for (int i = 0; i < cols; i++) {
                assertThat(v.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i))
                        .isEqualTo((short) (i - 10));
            }
        }
    }

    @Test
    void finishWithAMissingTensorNamesIt() throws IOException {
        Path p = dir.resolve("f.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(
                new SafetensorsWriter.Entry("done", DType.F32, new long[] {2}),
                new SafetensorsWriter.Entry("half", DType.F32, new long[] {4}),
                new SafetensorsWriter.Entry("never", DType.F32, new long[] {1})), PT)) {
            w.write("done", 0, ByteBuffer.allocate(8));
            w.write("half", 0, ByteBuffer.allocate(8));
            assertThatThrownBy(w::finish).isInstanceOfSatisfying(AmalgamException.class, e -> {
                assertThat(e.where().tensor()).isEqualTo("half");
                assertThat(e.getMessage()).contains("'half'").contains("8 of 16 bytes");
            });
            assertThat(w.isFinished()).isFalse();
        }
    }

    @Test
    void createRefusesAnExistingFile() throws IOException {
        Path p = dir.resolve("exists.safetensors");
        Files.writeString(p, "keep me");
        assertThatThrownBy(() -> SafetensorsWriter.create(p, List.of(), PT))
                .isInstanceOfSatisfying(AmalgamException.class, e -> {
                    assertThat(e.kind()).isEqualTo(AmalgamException.Kind.IO);
                    assertThat(e.getMessage()).contains("already exists");
                });
        assertThat(Files.readString(p)).isEqualTo("keep me");
    }

    @Test
    void writesOutsideTheTensorAreRefused() throws IOException {
        Path p = dir.resolve("b.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(
                new SafetensorsWriter.Entry("a", DType.F32, new long[] {2})), PT)) {
            assertThatThrownBy(() -> w.write("a", 4, ByteBuffer.allocate(8)))
                    .isInstanceOf(AmalgamException.class).hasMessageContaining("outside its 8 bytes");
            assertThatThrownBy(() -> w.write("a", -1, ByteBuffer.allocate(1)))
                    .isInstanceOf(AmalgamException.class);
            assertThatThrownBy(() -> w.write("zzz", 0, ByteBuffer.allocate(1)))
                    .isInstanceOf(AmalgamException.class).hasMessageContaining("'zzz'");
        }
    }

    @Test
    void duplicateNamesAndTheMetadataKeyAreRefused() {
        assertThatThrownBy(() -> SafetensorsWriter.create(dir.resolve("d.safetensors"), List.of(
                new SafetensorsWriter.Entry("a", DType.F32, new long[] {1}),
                new SafetensorsWriter.Entry("a", DType.F32, new long[] {1})), PT))
                .isInstanceOf(AmalgamException.class).hasMessageContaining("appears twice");
        assertThatThrownBy(() -> SafetensorsWriter.create(dir.resolve("m.safetensors"), List.of(
                new SafetensorsWriter.Entry("__metadata__", DType.F32, new long[] {1})), PT))
                .isInstanceOf(AmalgamException.class);
        assertThat(dir.resolve("d.safetensors")).doesNotExist();
    }

    @Test
    void closeWithoutFinishLeavesTheFileForTheCaller() throws IOException {
        Path p = dir.resolve("abort.safetensors");
        SafetensorsWriter w = SafetensorsWriter.create(p, List.of(new SafetensorsWriter.Entry("a", DType.U8, new long[] {3})), PT);
        w.close();
        w.close();
        assertThat(p).exists();
    }

    @Test
    void zeroSizedTensorsAndScalars() throws IOException {
        Path p = dir.resolve("z.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(
                new SafetensorsWriter.Entry("empty", DType.F32, new long[] {0, 5}),
                new SafetensorsWriter.Entry("scalar", DType.I64, new long[] {})), PT)) {
            w.write("scalar", 0, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 42));
            w.finish();
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.tensor("empty").numel()).isZero();
            assertThat(f.tensor("scalar").shapeString()).isEqualTo("[]");
            assertThat(f.data(f.tensor("scalar")).get(ValueLayout.JAVA_LONG_UNALIGNED, 0)).isEqualTo(42L);
        }
    }
}
