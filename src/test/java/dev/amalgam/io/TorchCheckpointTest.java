package dev.amalgam.io;

import dev.amalgam.io.TorchWriter.Options;
import dev.amalgam.io.TorchWriter.Storage;
import dev.amalgam.io.TorchWriter.View;
import dev.amalgam.kernel.Codec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** PyTorch zip checkpoints written as torch.save writes them, read back lazily. */
class TorchCheckpointTest {

    @TempDir
    Path dir;

    static byte[] randomBytes(long seed, int n) {
        byte[] b = new byte[n];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            b[i] = (byte) r.nextInt(256);
        }
        return b;
    }

    static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    private static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    private static byte[] slice(byte[] b, int from, int len) {
        return java.util.Arrays.copyOfRange(b, from, from + len);
    }

    /** f32, f16, bf16 and i64 tensors, a 0-dim one and one starting inside its storage. */
    private static List<View> mixed() {
        Storage f32 = new Storage("0", DType.F32, floats(1f, -2f, 3.5f, Float.NaN, 0f, -0f));
        Storage f16 = new Storage("1", DType.F16, randomBytes(1, 2 * 12));
        Storage bf16 = new Storage("2", DType.BF16, randomBytes(2, 2 * 40));
        Storage i64 = new Storage("3", DType.I64, randomBytes(3, 8 * 5));
        Storage scalar = new Storage("4", DType.F32, floats(42f));
        Storage big = new Storage("5", DType.F32, randomBytes(5, 4 * 20));
        return List.of(
                View.contiguous("model.w32", f32, 0, 2, 3),
                View.contiguous("model.w16", f16, 0, 3, 4),
                View.contiguous("model.wbf16", bf16, 0, 2, 4, 5),
                View.contiguous("model.ids", i64, 0, 5),
                View.contiguous("model.scalar", scalar, 0),
                View.contiguous("model.offset_view", big, 7, 3, 4));
    }

    private void assertReadsBack(Path file, List<View> views) {
        try (TorchCheckpoint ck = TorchCheckpoint.open(file)) {
            assertThat(ck.tensors()).extracting(TensorInfo::name).containsExactlyElementsOf(
                    views.stream().map(View::name).toList());
            for (View v : views) {
                TensorInfo t = ck.tensor(v.name());
                assertThat(t.dtype()).as(v.name()).isEqualTo(v.storage().dtype());
                assertThat(t.shape()).as(v.name()).isEqualTo(v.shape());
                int es = t.dtype().byteSize();
                assertThat(bytes(ck.data(t))).as(v.name()).isEqualTo(
                        slice(v.storage().bytes(), (int) v.offset() * es, (int) t.numel() * es));
            }
        }
    }

    @Test
    void roundTripOfMixedDtypesScalarsAndOffsets() throws IOException {
        Path f = dir.resolve("pytorch_model.bin");
        List<View> views = mixed();
        TorchWriter.save(f, views);
        assertReadsBack(f, views);
        try (TorchCheckpoint ck = TorchCheckpoint.open(f)) {
            assertThat(ck.archiveName()).isEqualTo("archive");
            TensorInfo s = ck.tensor("model.scalar");
            assertThat(s.rank()).isZero();
            assertThat(s.numel()).isEqualTo(1);
            float[] out = new float[1];
            Codec.decode(DType.F32, ck.data(s), 0, out, 0, 1);
            assertThat(out[0]).isEqualTo(42f);
            float[] w = new float[6];
            Codec.decode(DType.F32, ck.data(ck.tensor("model.w32")), 0, w, 0, 6);
            assertThat(w).containsExactly(1f, -2f, 3.5f, Float.NaN, 0f, -0f);
            // the data is a slice of the file, 64-byte aligned where the storage starts
            assertThat(ck.tensor("model.w32").dataStart() % 64).isZero();
            assertThat(ck.tensor("model.offset_view").dataStart() % 64).isEqualTo(7 * 4);
        }
    }

    @Test
    void everyTypedStorageClassIsRead() throws IOException {
        List<View> views = new java.util.ArrayList<>();
        int k = 0;
        for (DType d : List.of(DType.F64, DType.F32, DType.F16, DType.BF16, DType.I64, DType.I32, DType.I16, DType.I8,
                DType.U8, DType.BOOL)) {
            views.add(View.contiguous("t." + d, new Storage(Integer.toString(k), d, randomBytes(k, 3 * d.byteSize())), 0, 3));
            k++;
        }
        Path f = dir.resolve("all.bin");
        TorchWriter.save(f, views);
        assertReadsBack(f, views);
    }

    @Test
    void tensorsSharingOneStorage() throws IOException {
        Storage s = new Storage("0", DType.BF16, randomBytes(9, 2 * 20));
        List<View> views = List.of(
                View.contiguous("lm_head.weight", s, 0, 4, 3),
                View.contiguous("model.embed_tokens.weight", s, 0, 4, 3),
                View.contiguous("tail", s, 12, 8));
        Path f = dir.resolve("tied.bin");
        TorchWriter.save(f, views);
        assertReadsBack(f, views);
        try (TorchCheckpoint ck = TorchCheckpoint.open(f)) {
            TensorInfo a = ck.tensor("lm_head.weight");
            TensorInfo b = ck.tensor("model.embed_tokens.weight");
            TensorInfo c = ck.tensor("tail");
            assertThat(a.dataStart()).isEqualTo(b.dataStart());
            assertThat(c.dataStart()).isEqualTo(a.dataStart() + 24);
        }
        byte[] file = Files.readAllBytes(f);
        // one storage entry only: the bytes appear once
        assertThat(indexOf(file, s.bytes(), 0)).isPositive();
        assertThat(indexOf(file, s.bytes(), indexOf(file, s.bytes(), 0) + 1)).isEqualTo(-1);
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void emptyTensorsAndSizeOneDimensionsWithAnyStride() throws IOException {
        Storage s = new Storage("0", DType.F32, floats(1, 2, 3, 4));
        List<View> views = List.of(
                new View("empty", s, 4, new long[] {0, 5}, new long[] {99, 7}),
                new View("column", s, 0, new long[] {4, 1}, new long[] {1, 123}));
        Path f = dir.resolve("e.bin");
        TorchWriter.save(f, views);
        try (TorchCheckpoint ck = TorchCheckpoint.open(f)) {
            assertThat(ck.data(ck.tensor("empty")).byteSize()).isZero();
            assertThat(bytes(ck.data(ck.tensor("column")))).isEqualTo(s.bytes());
        }
    }

    @Test
    void stateDictNestedUnderStateDictWithOtherEntries() throws IOException {
        Path f = dir.resolve("nested.bin");
        TorchWriter.save(f, mixed(), Options.TORCH.nested());
        assertReadsBack(f, mixed());
    }

    @Test
    void parametersAreReadAsTheirTensors() throws IOException {
        Path f = dir.resolve("params.bin");
        TorchWriter.save(f, mixed(), Options.TORCH.asParameters());
        assertReadsBack(f, mixed());
    }

    @Test
    void protocol4WithFramesMemoizeAndStackGlobal() throws IOException {
        Path f = dir.resolve("p4.bin");
        TorchWriter.save(f, mixed(), Options.TORCH.withProtocol(4));
        assertReadsBack(f, mixed());
        byte[] pkl = TorchWriter.statePickle(mixed(), Options.TORCH.withProtocol(4));
        assertThat(pkl[2] & 0xFF).isEqualTo(0x95);
    }

    @Test
    void archiveNamedAfterTheFileZip64AndDeflatedPickle() throws IOException {
        Path a = dir.resolve("named.bin");
        TorchWriter.save(a, mixed(), Options.TORCH.withArchive("pytorch_model"));
        assertReadsBack(a, mixed());
        try (TorchCheckpoint ck = TorchCheckpoint.open(a)) {
            assertThat(ck.archiveName()).isEqualTo("pytorch_model");
        }
        Path z = dir.resolve("zip64.bin");
        TorchWriter.save(z, mixed(), Options.TORCH.withZip64());
        assertReadsBack(z, mixed());
        Path d = dir.resolve("deflated.bin");
        TorchWriter.save(d, mixed(), Options.TORCH.deflatingPickle());
        assertReadsBack(d, mixed());
        Path nb = dir.resolve("nobyteorder.bin");
        TorchWriter.save(nb, mixed(), Options.TORCH.withByteorder(null));
        assertReadsBack(nb, mixed());
    }

    @Test
    void manyTensorsNeedLongMemoIndicesAndSeveralSetitemsBatches() throws IOException {
        List<View> views = new java.util.ArrayList<>();
        for (int i = 0; i < 2500; i++) {
            views.add(View.contiguous("layers." + i + ".w", new Storage(Integer.toString(i), DType.F16,
                    randomBytes(i, 4)), 0, 2));
        }
        Path f = dir.resolve("many.bin");
        TorchWriter.save(f, views);
        assertReadsBack(f, views);
    }

    @Test
    void bigIntegersAreReadFromLong1() {
        TorchWriter.Pickler p = new TorchWriter.Pickler(2);
        p.proto().op('(');
        for (long v : new long[] {0, 1, 255, 256, 65535, 65536, -1, Integer.MIN_VALUE, Integer.MAX_VALUE + 1L,
                Long.MAX_VALUE, Long.MIN_VALUE}) {
            p.integer(v);
        }
        p.op('t').op('.');
        Object o = PickleReader.read(p.bytes(), dir.resolve("x"), "data.pkl");
        assertThat(((PickleReader.Tuple) o).items()).containsExactly(0L, 1L, 255L, 256L, 65535L, 65536L, -1L,
                (long) Integer.MIN_VALUE, Integer.MAX_VALUE + 1L, Long.MAX_VALUE, Long.MIN_VALUE);
    }
}
