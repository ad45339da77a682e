package dev.amalgam.io;

import dev.amalgam.error.AmalgamException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/** One handcrafted corrupt file per failure mode of the safetensors reader. */
class SafetensorsCorruptionTest {

    @TempDir
    Path dir;

    private AmalgamException open(byte[] content) throws IOException {
        Path p = Handcrafted.write(dir, "bad.safetensors", content);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            fail("expected an error, opened " + f);
            return null;
        } catch (AmalgamException e) {
            assertThat(e.where().file()).isEqualTo(p.toString());
            assertThat(e.hint()).isNotBlank();
            return e;
        }
    }

    private AmalgamException open(String header, int dataBytes) throws IOException {
        return open(Handcrafted.bytes(header, dataBytes));
    }

    private static final String A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    @Test
    void validMinimalFileOpens() throws IOException {
        Path p = Handcrafted.write(dir, "ok.safetensors", Handcrafted.bytes("{" + A + "}", 8));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.tensors()).hasSize(1);
            assertThat(f.tensor("a").shapeString()).isEqualTo("[2]");
            assertThat(f.metadata()).isEmpty();
            assertThat(f.dataSectionOffset()).isEqualTo(8 + 2 + A.length());
        }
    }

    @Test
    void emptyHeaderObjectWithNoDataIsValid() throws IOException {
        Path p = Handcrafted.write(dir, "empty.safetensors", Handcrafted.bytes("{}      ", 0));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.tensors()).isEmpty();
        }
    }

    @Test
    void missingFileIsAnIoError() {
        Path p = dir.resolve("absent.safetensors");
        assertThatThrownBy(() -> SafetensorsFile.open(p))
                .isInstanceOfSatisfying(AmalgamException.class, e -> {
                    assertThat(e.kind()).isEqualTo(AmalgamException.Kind.IO);
                    assertThat(e.where().file()).isEqualTo(p.toString());
                });
    }

    @Test
    void directoryIsRefused() {
        assertThatThrownBy(() -> SafetensorsFile.open(dir))
                .isInstanceOfSatisfying(AmalgamException.class,
                        e -> assertThat(e.getMessage()).contains("is a directory"));
    }

    @Test
    void fileShorterThan8Bytes() throws IOException {
        AmalgamException e = open(new byte[] {1, 0, 0});
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
        assertThat(e.getMessage()).contains("3 bytes").contains("too short");
        assertThat(e.where().offset()).isEqualTo(0);
    }

    @Test
    void headerLengthZero() throws IOException {
        AmalgamException e = open(new byte[16]);
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
        assertThat(e.getMessage()).contains("header length is 0");
    }

    @Test
    void headerLengthOver100MB() throws IOException {
        byte[] b = new byte[64];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(100_000_001L);
        AmalgamException e = open(b);
        assertThat(e.getMessage()).contains("100000001").contains("exceeds the limit");
    }

    @Test
    void headerLengthAbove2To63IsTooLargeNotNegative() throws IOException {
        byte[] b = new byte[64];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(-1L);
        AmalgamException e = open(b);
        assertThat(e.getMessage()).contains("18446744073709551615").contains("exceeds the limit");
    }

    @Test
    void headerLengthBeyondTheFile() throws IOException {
        byte[] b = new byte[40];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(1000);
        AmalgamException e = open(b);
        assertThat(e.getMessage()).contains("header length 1000 goes beyond the end of the file (40 bytes)");
        assertThat(e.hint()).contains("truncated");
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[] header = {'{', '"', 'a', (byte) 0xFF, '"', ':', '1', '}'};
        AmalgamException e = open(Handcrafted.bytes(header, 0));
        assertThat(e.getMessage()).contains("not valid UTF-8");
        assertThat(e.where().offset()).isEqualTo(8 + 3);
    }

    @Test
    void headerNotJson() throws IOException {
        AmalgamException e = open("{\"a\": nope}", 0);
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
        assertThat(e.getMessage()).contains("not valid JSON");
        assertThat(e.where().offset()).isGreaterThanOrEqualTo(8);
    }

    @Test
    void headerNotAnObject() throws IOException {
        AmalgamException e = open("[1, 2, 3]", 0);
        assertThat(e.getMessage()).contains("does not start with '{'");
    }

    @Test
    void headerWithTrailingGarbageAfterTheObject() throws IOException {
        AmalgamException e = open("{}{}", 0);
        assertThat(e.getMessage()).contains("not valid JSON");
    }

    @Test
    void duplicateTensorName() throws IOException {
        AmalgamException e = open("{" + A + "," + A + "}", 8);
        assertThat(e.getMessage()).contains("Duplicate field 'a'");
        assertThat(e.hint()).contains("only once");
    }

    @Test
    void entryNotAnObject() throws IOException {
        AmalgamException e = open("{\"w\": [1, 2]}", 0);
        assertThat(e.where().tensor()).isEqualTo("w");
        assertThat(e.getMessage()).contains("'w' is not a JSON object");
    }

    @Test
    void entryWithoutDtype() throws IOException {
        AmalgamException e = open("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        assertThat(e.where().tensor()).isEqualTo("w");
        assertThat(e.getMessage()).contains("has no 'dtype'");
    }

    @Test
    void entryWithoutShape() throws IOException {
        AmalgamException e = open("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4);
        assertThat(e.getMessage()).contains("has no 'shape'");
    }

    @Test
    void entryWithoutDataOffsets() throws IOException {
        AmalgamException e = open("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4);
        assertThat(e.getMessage()).contains("has no 'data_offsets'");
    }

    @Test
    void unknownDtype() throws IOException {
        AmalgamException e = open("{\"w\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2);
        assertThat(e.where().tensor()).isEqualTo("w");
        assertThat(e.getMessage()).contains("unsupported dtype \"U16\"");
        assertThat(e.hint()).contains("BF16").contains("F8_E4M3");
    }

    @Test
    void negativeDimension() throws IOException {
        AmalgamException e = open("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0);
        assertThat(e.where().tensor()).isEqualTo("w");
        assertThat(e.getMessage()).contains("dimension 0 is not a non-negative integer");
    }

    @Test
    void nonIntegerDimension() throws IOException {
        AmalgamException e = open("{\"w\":{\"dtype\":\"F32\",\"shape\":[2, 1.5],\"data_offsets\":[0,12]}}", 12);
        assertThat(e.getMessage()).contains("dimension 1 is not a non-negative integer");
    }

    @Test
    void shapeNotAnArray() throws IOException {
        AmalgamException e = open("{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 16);
        assertThat(e.getMessage()).contains("not an array");
    }

    @Test
    void numelTimesSizeOverflows() throws IOException {
        AmalgamException e = open("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0);
        assertThat(e.where().tensor()).isEqualTo("w");
        assertThat(e.getMessage()).contains("more bytes than fit in 64 bits");
    }

    @Test
    void dataOffsetsNotTwoIntegers() throws IOException {
        for (String offsets : List.of("[0]", "[0,4,8]", "[0,\"4\"]", "[0,4.0]", "[-4,0]", "7", "[0,18446744073709551616]")) {
            AmalgamException e = open("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" + offsets + "}}", 4);
            assertThat(e.where().tensor()).as(offsets).isEqualTo("w");
            assertThat(e.getMessage()).as(offsets).contains("not two non-negative integers");
        }
    }

    @Test
    void beginAfterEnd() throws IOException {
        AmalgamException e = open("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8);
        assertThat(e.getMessage()).contains("begin is after end");
    }

    @Test
    void byteLengthDisagreesWithShape() throws IOException {
        AmalgamException e = open("{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
        assertThat(e.where().tensor()).isEqualTo("w");
        assertThat(e.getMessage()).contains("(8 bytes)").contains("need 6 bytes");
    }

    @Test
    void overlappingTensors() throws IOException {
        String h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        AmalgamException e = open(h, 12);
        assertThat(e.where().tensor()).isEqualTo("b");
        assertThat(e.getMessage()).contains("overlaps tensor 'a'");
        assertThat(e.where().offset()).isEqualTo(8 + h.length() + 4);
    }

    @Test
    void gapBetweenTensors() throws IOException {
        String h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}";
        AmalgamException e = open(h, 20);
        assertThat(e.where().tensor()).isEqualTo("b");
        assertThat(e.getMessage()).contains("data bytes [8, 12) before tensor 'b' belong to no tensor");
        assertThat(e.where().offset()).isEqualTo(8 + h.length() + 8);
    }

    @Test
    void dataNotStartingAtZero() throws IOException {
        String h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        AmalgamException e = open(h, 12);
        assertThat(e.where().tensor()).isEqualTo("a");
        assertThat(e.getMessage()).contains("[0, 4)");
        assertThat(e.hint()).contains("start with a tensor at offset 0");
    }

    @Test
    void truncatedData() throws IOException {
        String h = "{" + A + "}";
        AmalgamException e = open(h, 5);
        assertThat(e.where().tensor()).isEqualTo("a");
        assertThat(e.getMessage()).contains("needs data bytes [0, 8) but the file has only 5 data bytes");
        assertThat(e.hint()).contains("truncated");
    }

    @Test
    void trailingBytesAfterTheData() throws IOException {
        String h = "{" + A + "}";
        AmalgamException e = open(h, 11);
        assertThat(e.getMessage()).contains("3 trailing bytes");
        assertThat(e.where().offset()).isEqualTo(8 + h.length() + 8);
    }

    @Test
    void metadataNotAnObject() throws IOException {
        AmalgamException e = open("{\"__metadata__\":[\"pt\"]}", 0);
        assertThat(e.where().tensor()).isEqualTo("__metadata__");
        assertThat(e.getMessage()).contains("__metadata__ is not a JSON object");
    }

    @Test
    void metadataValueNotAString() throws IOException {
        AmalgamException e = open("{\"__metadata__\":{\"format\":\"pt\",\"step\":3}}", 0);
        assertThat(e.getMessage()).contains("key 'step' is not a string");
    }

    @Test
    void metadataIsReadWhenValid() throws IOException {
        Path p = Handcrafted.write(dir, "m.safetensors",
                Handcrafted.bytes("{\"__metadata__\":{\"format\":\"pt\"}," + A + "}", 8));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.metadata()).isEqualTo(Map.of("format", "pt"));
        }
    }

    /**
     * Seeded mutation loop: random byte flips, truncations and extensions of a valid file may only
     * ever produce a valid file or an {@link AmalgamException}.
     */
    @Test
    void mutationsOnlyEverThrowAmalgamException_seed20260101() throws IOException {
        long seed = 20260101L;
        Path ok = dir.resolve("ok.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(ok, List.of(
                new SafetensorsWriter.Entry("a.weight", DType.BF16, new long[] {3, 5}),
                new SafetensorsWriter.Entry("b", DType.F32, new long[] {2}),
                new SafetensorsWriter.Entry("c.bias", DType.I64, new long[] {1})), Map.of("format", "pt"))) {
            w.write("a.weight", 0, java.nio.ByteBuffer.allocate(30));
            w.write("b", 0, java.nio.ByteBuffer.allocate(8));
            w.write("c.bias", 0, java.nio.ByteBuffer.allocate(8));
            w.finish();
        }
        byte[] good = java.nio.file.Files.readAllBytes(ok);
        SplittableRandom rnd = new SplittableRandom(seed);
        int accepted = 0;
        for (int iter = 0; iter < 3000; iter++) {
            byte[] b;
            int kind = rnd.nextInt(4);
            if (kind == 0) {
                b = good.clone();
                int flips = 1 + rnd.nextInt(3);
                for (int k = 0; k < flips; k++) {
                    b[rnd.nextInt(Math.min(b.length, 8 + 200))] = (byte) rnd.nextInt(256);
                }
            } else if (kind == 1) {
                b = Arrays.copyOf(good, rnd.nextInt(good.length));
            } else if (kind == 2) {
                b = Arrays.copyOf(good, good.length + 1 + rnd.nextInt(16));
            } else {
                b = good.clone();
                int at = 8 + rnd.nextInt(b.length - 8);
                b[at] = (byte) "{}[],:\"0123456789-.e ".charAt(rnd.nextInt(21));
            }
            Path p = dir.resolve("m" + iter + ".safetensors");
            java.nio.file.Files.write(p, b);
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                accepted++;
                for (TensorInfo t : f.tensors()) {
                    assertThat(f.data(t).byteSize()).isEqualTo(t.byteSize());
                }
            } catch (AmalgamException expected) {
                assertThat(expected.kind()).isEqualTo(AmalgamException.Kind.INPUT);
            } catch (RuntimeException e) {
                throw new AssertionError("seed " + seed + " iteration " + iter + ": " + e, e);
            }
            java.nio.file.Files.delete(p);
        }
        assertThat(accepted).isLessThan(3000);
    }
}
