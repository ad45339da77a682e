package dev.amalgam.io;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.io.TorchWriter.Options;
import dev.amalgam.io.TorchWriter.Storage;
import dev.amalgam.io.TorchWriter.View;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.amalgam.io.PickleHostileTest.refuseFile;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * One handcrafted broken checkpoint per failure mode of the zip container and of the tensors it
 * describes: each refused with kind, file, byte offset or tensor, and a hint.
 */
class TorchCorruptionTest {

    @TempDir
    Path dir;

    private static final Storage S = new Storage("0", DType.F32, new byte[24]);
    private static final List<View> GOOD = List.of(View.contiguous("w", S, 0, 2, 3), View.contiguous("b", S, 2, 4));

    private Path write(byte[] content) throws IOException {
        Path p = dir.resolve("pytorch_model.bin");
        Files.write(p, content);
        return p;
    }

    private AmalgamException refuse(byte[] content) throws IOException {
        return refuseFile(write(content));
    }

    private static byte[] good() {
        return TorchWriter.checkpoint(GOOD, Options.TORCH);
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Offset of the end-of-central-directory record (no comment, no ZIP64). */
    private static int eocd(byte[] b) {
        return b.length - 22;
    }

    private static int centralDirectory(byte[] b) {
        return le(b).getInt(eocd(b) + 16);
    }

    /** Offset of the central directory entry named {@code name}. */
    private static int central(byte[] b, String name) {
        int at = centralDirectory(b);
        ByteBuffer l = le(b);
        while (l.getInt(at) == 0x02014b50) {
            int nameLen = l.getShort(at + 28) & 0xFFFF;
            String n = new String(b, at + 46, nameLen, StandardCharsets.UTF_8);
            if (n.equals(name)) {
                return at;
            }
            at += 46 + nameLen + (l.getShort(at + 30) & 0xFFFF) + (l.getShort(at + 32) & 0xFFFF);
        }
        throw new IllegalArgumentException(name);
    }

    private static int localHeader(byte[] b, String name) {
        return le(b).getInt(central(b, name) + 42);
    }

    @Test
    void goodFileOpens() throws IOException {
        try (TorchCheckpoint ck = TorchCheckpoint.open(write(good()))) {
            assertThat(ck.tensors()).hasSize(2);
        }
    }

    @Test
    void missingFileAndDirectory() {
        Path absent = dir.resolve("absent.bin");
        assertThatThrownBy(() -> TorchCheckpoint.open(absent)).isInstanceOfSatisfying(AmalgamException.class, e -> {
            assertThat(e.kind()).isEqualTo(AmalgamException.Kind.IO);
            assertThat(e.where().file()).isEqualTo(absent.toString());
        });
        assertThatThrownBy(() -> TorchCheckpoint.open(dir)).isInstanceOfSatisfying(AmalgamException.class,
                e -> assertThat(e.getMessage()).contains("is a directory"));
    }

    @Test
    void emptyAndForeignFiles() throws IOException {
        assertThat(refuse(new byte[0]).hint()).contains("empty");
        AmalgamException e = refuse("{\"not\": \"a zip\"}".getBytes(StandardCharsets.US_ASCII));
        assertThat(e.getMessage()).contains("not a PyTorch zip checkpoint");
        assertThat(e.where().offset()).isZero();
    }

    @Test
    void legacyFormatIsNotSupportedAndSaysHowToConvert() throws IOException {
        byte[] legacy = {(byte) 0x80, 0x02, (byte) 0x8a, 0x0a, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20,
                0x6a, (byte) 0xa8, 0x50, 0x19, 0x2e, (byte) 0x80, 0x02, 0x4d, (byte) 0xe9, 0x03, 0x2e};
        AmalgamException e = refuse(legacy);
        assertThat(e.getMessage()).contains("legacy PyTorch checkpoint");
        assertThat(e.hint()).contains("legacy (pre-1.6) format").contains("torch.save(torch.load(f, weights_only=True), f)")
                .contains("safetensors");
        byte[] tar = new byte[1024];
        System.arraycopy("ustar".getBytes(StandardCharsets.US_ASCII), 0, tar, 257, 5);
        assertThat(refuse(tar).getMessage()).contains("tar-format PyTorch checkpoint");
    }

    @Test
    void truncatedZipHasNoEndRecord() throws IOException {
        byte[] b = good();
        for (int cut : new int[] {b.length - 1, b.length - 22, b.length / 2, 4}) {
            AmalgamException e = refuse(Arrays.copyOf(b, cut));
            assertThat(e.getMessage()).as("cut %d", cut).contains("no zip end-of-central-directory record");
            assertThat(e.hint()).contains("truncated");
        }
    }

    @Test
    void centralDirectoryOutsideTheFile() throws IOException {
        byte[] b = good();
        le(b).putInt(eocd(b) + 16, b.length);
        AmalgamException e = refuse(b);
        assertThat(e.getMessage()).contains("central directory").contains("lies outside");
        assertThat(e.where().offset()).isEqualTo(eocd(b));
    }

    @Test
    void moreEntriesClaimedThanTheDirectoryHolds() throws IOException {
        byte[] b = good();
        le(b).putShort(eocd(b) + 8, (short) 60000).putShort(eocd(b) + 10, (short) 60000);
        assertThat(refuse(b).getMessage()).contains("cannot hold the 60000 entries");
    }

    @Test
    void multiDiskArchive() throws IOException {
        byte[] b = good();
        le(b).putShort(eocd(b) + 4, (short) 1);
        assertThat(refuse(b).getMessage()).contains("multi-disk");
    }

    @Test
    void zip64WithoutItsLocator() throws IOException {
        byte[] b = good();
        le(b).putInt(eocd(b) + 16, -1);
        assertThat(refuse(b).getMessage()).contains("no ZIP64 locator");
    }

    @Test
    void zip64LocatorPointingNowhere() throws IOException {
        byte[] b = TorchWriter.checkpoint(GOOD, Options.TORCH.withZip64());
        le(b).putLong(b.length - 22 - 20 + 8, 3);
        assertThat(refuse(b).getMessage()).contains("not a ZIP64 end-of-central-directory record");
    }

    @Test
    void encryptedEntry() throws IOException {
        byte[] b = good();
        int c = central(b, "archive/data.pkl");
        le(b).putShort(c + 8, (short) 1);
        assertThat(refuse(b).getMessage()).contains("'archive/data.pkl' is encrypted");
    }

    @Test
    void duplicateEntryNames() throws IOException {
        TorchWriter.Zip z = new TorchWriter.Zip(false);
        byte[] pkl = TorchWriter.statePickle(GOOD, Options.TORCH);
        z.add("archive/data.pkl", pkl, false);
        z.add("archive/data/0", S.bytes(), false);
        z.add("archive/data/0", new byte[24], false);
        AmalgamException e = refuse(z.finish());
        assertThat(e.getMessage()).contains("zip entry 'archive/data/0' appears twice");
        assertThat(e.where().offset()).isPositive();
    }

    @Test
    void localHeaderDisagreesWithTheCentralDirectory() throws IOException {
        byte[] b = good();
        int l = localHeader(b, "archive/data/0");
        b[l + 30 + 13] = '9';
        AmalgamException e = refuse(b);
        assertThat(e.getMessage()).contains("local header of zip entry 'archive/data/0' disagrees");
        assertThat(e.where().offset()).isEqualTo(l);
        byte[] m = good();
        le(m).putShort(localHeader(m, "archive/data/0") + 8, (short) 8);
        assertThat(refuse(m).getMessage()).contains("has method 8 in its local header but 0");
        byte[] s = good();
        le(s).putInt(central(s, "archive/data/0") + 42, 3);
        assertThat(refuse(s).getMessage()).contains("has no local header at byte 3");
    }

    @Test
    void storedSizeDisagreesWithSize() throws IOException {
        byte[] b = good();
        le(b).putInt(central(b, "archive/data/0") + 24, 23);
        assertThat(refuse(b).getMessage()).contains("has 24 stored bytes but a size of 23");
    }

    @Test
    void entryRunsIntoTheCentralDirectory() throws IOException {
        byte[] b = good();
        int c = central(b, "archive/.data/serialization_id");
        le(b).putInt(c + 20, 5000).putInt(c + 24, 5000);
        AmalgamException e = refuse(b);
        assertThat(e.getMessage()).containsAnyOf("runs into the central directory", "needs bytes");
    }

    @Test
    void overlappingEntries() throws IOException {
        byte[] b = good();
        // point byteorder's central entry at data.pkl's local header: both then claim the same bytes
        int c = central(b, "archive/byteorder");
        le(b).putInt(c + 42, localHeader(b, "archive/data.pkl"));
        AmalgamException e = refuse(b);
        assertThat(e.getMessage()).containsAnyOf("overlaps", "disagrees");
    }

    @Test
    void pickleFailsItsCrc() throws IOException {
        byte[] b = good();
        b[64 + 5] ^= 1;
        AmalgamException e = refuse(b);
        assertThat(e.getMessage()).contains("'archive/data.pkl' fails its CRC-32 check");
        assertThat(e.where().offset()).isEqualTo(64);
    }

    @Test
    void pickleCompressedWithAnUnknownMethod() throws IOException {
        byte[] b = TorchWriter.checkpoint(GOOD, Options.TORCH.deflatingPickle());
        le(b).putShort(central(b, "archive/data.pkl") + 10, (short) 12);
        le(b).putShort(localHeader(b, "archive/data.pkl") + 8, (short) 12);
        assertThat(refuse(b).getMessage()).contains("compression method 12");
        byte[] d = TorchWriter.checkpoint(GOOD, Options.TORCH.deflatingPickle());
        d[64 + 3] ^= 0x55;
        assertThat(refuse(d).getMessage()).containsAnyOf("inflate", "is corrupt", "CRC-32");
    }

    @Test
    void deflatedPickleWithAFalseSize() throws IOException {
        // a claim of 200 MiB costs no memory up front and is found out
        byte[] big = TorchWriter.checkpoint(GOOD, Options.TORCH.deflatingPickle());
        le(big).putInt(central(big, "archive/data.pkl") + 24, 200 << 20);
        assertThat(refuse(big).getMessage()).contains("does not inflate to its 209715200 bytes");
        byte[] small = TorchWriter.checkpoint(GOOD, Options.TORCH.deflatingPickle());
        le(small).putInt(central(small, "archive/data.pkl") + 24, 10);
        assertThat(refuse(small).getMessage()).contains("inflates to more than its 10 bytes");
        byte[] huge = TorchWriter.checkpoint(GOOD, Options.TORCH.deflatingPickle());
        le(huge).putInt(central(huge, "archive/data.pkl") + 24, -1);
        assertThat(refuse(huge).getMessage()).contains("'archive/data.pkl' is 4294967295 bytes, over the limit");
    }

    @Test
    void noDataPkl() throws IOException {
        byte[] b = good();
        int c = central(b, "archive/data.pkl");
        int l = localHeader(b, "archive/data.pkl");
        b[c + 46 + 8] = 'D';
        b[l + 30 + 8] = 'D';
        AmalgamException e = refuse(b);
        assertThat(e.getMessage()).contains("has no <archive>/data.pkl");
    }

    @Test
    void torchScriptArchive() throws IOException {
        TorchWriter.Zip z = new TorchWriter.Zip(false);
        z.add("model/constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}, false);
        z.add("model/code/__torch__.py", "def forward(self): ...".getBytes(StandardCharsets.US_ASCII), false);
        AmalgamException e = refuse(z.finish());
        assertThat(e.getMessage()).contains("TorchScript module");
        assertThat(e.hint()).contains("state_dict()");
    }

    @Test
    void twoDataPkls() throws IOException {
        TorchWriter.Zip z = new TorchWriter.Zip(false);
        byte[] pkl = TorchWriter.statePickle(GOOD, Options.TORCH);
        z.add("a/data.pkl", pkl, false);
        z.add("b/data.pkl", pkl, false);
        assertThat(refuse(z.finish()).getMessage()).contains("2 data.pkl entries (a, b)");
    }

    @Test
    void bigEndianAndGarbledByteOrder() throws IOException {
        AmalgamException big = refuse(TorchWriter.checkpoint(GOOD, Options.TORCH.withByteorder("big")));
        assertThat(big.getMessage()).contains("big-endian");
        AmalgamException odd = refuse(TorchWriter.checkpoint(GOOD, Options.TORCH.withByteorder("middle\u0001")));
        assertThat(odd.getMessage()).contains("byte order 'middle?'");
    }

    @Test
    void storageEntryMissing() throws IOException {
        byte[] b = TorchWriter.archive(Options.TORCH, TorchWriter.statePickle(GOOD, Options.TORCH), Map.of());
        AmalgamException e = refuse(b);
        assertThat(e.getMessage()).contains("tensor 'w' uses storage '0', but the archive has no entry 'archive/data/0'");
        assertThat(e.where().tensor()).isEqualTo("w");
        assertThat(e.where().offset()).isGreaterThan(64);
    }

    @Test
    void storageCompressed() throws IOException {
        AmalgamException e = refuse(TorchWriter.checkpoint(GOOD, Options.TORCH.deflatingStorages()));
        assertThat(e.getMessage()).contains("storage entry 'archive/data/0' of tensor 'w' is compressed (method 8)");
        assertThat(e.hint()).contains("re-zipped");
    }

    @Test
    void storageSizeDisagreesWithThePickle() throws IOException {
        Storage claims = new Storage("0", DType.F32, new byte[28]);
        byte[] pkl = TorchWriter.statePickle(List.of(View.contiguous("w", claims, 0, 7)), Options.TORCH);
        AmalgamException e = refuse(TorchWriter.archive(Options.TORCH, pkl, Map.of("0", S)));
        assertThat(e.getMessage()).contains("is 24 bytes but the pickle declares 7 float32 elements (28 bytes)");
        assertThat(e.where().tensor()).isEqualTo("w");
    }

    @Test
    void nonContiguousStrides() throws IOException {
        byte[] b = TorchWriter.checkpoint(List.of(new View("wt", S, 0, new long[] {3, 2}, new long[] {1, 3})), Options.TORCH);
        AmalgamException e = refuse(b);
        assertThat(e.getMessage()).contains("tensor 'wt' is not contiguous: shape [3, 2] with strides [1, 3]"
                + " (contiguous would be [2, 1])");
        assertThat(e.where().tensor()).isEqualTo("wt");
        assertThat(e.hint()).contains("contiguous()");
        byte[] bcast = TorchWriter.checkpoint(List.of(new View("expanded", S, 0, new long[] {4, 6}, new long[] {0, 1})),
                Options.TORCH);
        assertThat(refuse(bcast).getMessage()).contains("not contiguous");
    }

    @Test
    void viewOutsideItsStorage() throws IOException {
        AmalgamException e = refuse(TorchWriter.checkpoint(List.of(View.contiguous("w", S, 4, 3)), Options.TORCH));
        assertThat(e.getMessage()).contains("tensor 'w' needs elements [4, 7) of storage '0', which has 6");
        AmalgamException f = refuse(TorchWriter.checkpoint(List.of(View.contiguous("w", S, 9, 0)), Options.TORCH));
        assertThat(f.getMessage()).contains("starts at element 9 of storage '0', which has 6");
    }

    @Test
    void shapeWhoseByteSizeOverflows() throws IOException {
        byte[] b = TorchWriter.checkpoint(List.of(new View("w", S, 0, new long[] {1L << 40, 1L << 40}, new long[] {1L << 40, 1})),
                Options.TORCH);
        AmalgamException e = refuse(b);
        assertThat(e.getMessage()).contains("more bytes than fit in 64 bits");
    }

    @Test
    void oneStorageKeyWithTwoDtypes() throws IOException {
        Storage asHalf = new Storage("0", DType.F16, new byte[24]);
        byte[] pkl = TorchWriter.statePickle(List.of(View.contiguous("a", S, 0, 6), View.contiguous("b", asHalf, 0, 12)),
                Options.TORCH);
        AmalgamException e = refuse(TorchWriter.archive(Options.TORCH, pkl, Map.of("0", S)));
        assertThat(e.getMessage()).contains("storage '0' is 6 float32 elements for one tensor and 12 float16 elements for tensor 'b'");
    }

    @Test
    void dataOfAForeignTensorIsABug() throws IOException {
        try (TorchCheckpoint ck = TorchCheckpoint.open(write(good()))) {
            TensorInfo alien = new TensorInfo("w", DType.F32, new long[] {6}, 0, 24);
            assertThatThrownBy(() -> ck.data(alien)).isInstanceOfSatisfying(AmalgamException.class,
                    e -> assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INTERNAL));
        }
    }

    @Test
    void storagesKeyedLikePaths() throws IOException {
        // storage keys are zip entry names, never file paths: '../x' simply is not an entry
        Storage s = new Storage("../../etc/passwd", DType.F32, new byte[8]);
        byte[] pkl = TorchWriter.statePickle(List.of(View.contiguous("w", s, 0, 2)), Options.TORCH);
        Map<String, Storage> none = new LinkedHashMap<>();
        AmalgamException e = refuse(TorchWriter.archive(Options.TORCH, pkl, none));
        assertThat(e.getMessage()).contains("no entry 'archive/data/../../etc/passwd'");
    }
}
