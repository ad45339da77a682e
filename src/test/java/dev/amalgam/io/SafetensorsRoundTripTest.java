package dev.amalgam.io;

import dev.amalgam.kernel.Codec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Writer → reader round trips of every dtype through the codecs. */
class SafetensorsRoundTripTest {

    @TempDir
    Path dir;

    /** Values each dtype holds exactly; they must come back bit for bit. */
    static float[] exactValues(DType dt) {
        return switch (dt) {
            case F64, F32 -> new float[] {0f, -0f, 1f, -2.5f, Float.MIN_VALUE, -Float.MIN_NORMAL, Float.MAX_VALUE,
                    Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 3.1415927f, 1e-30f};
            case F16, BF16, F8_E4M3, F8_E5M2 -> everyPattern(dt);
            case I64, I32 -> new float[] {0f, 1f, -1f, 16777216f, -16777216f, 123456f, 2147483520f};
            case I16 -> new float[] {0f, 1f, -1f, 32767f, -32768f, 1234f};
            case I8 -> new float[] {0f, 1f, -1f, 127f, -128f, 42f};
            case U8 -> new float[] {0f, 1f, 255f, 128f, 42f};
            case BOOL -> new float[] {0f, 1f, 1f, 0f};
        };
    }

    /** Every non-NaN value of a 16- or 8-bit float type, decoded from every bit pattern. */
    private static float[] everyPattern(DType dt) {
        int count = 1 << (8 * dt.byteSize());
        float[] out = new float[count];
        int n = 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate((long) count * dt.byteSize());
            for (int i = 0; i < count; i++) {
                if (dt.byteSize() == 2) {
                    s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) i);
                } else {
                    s.set(ValueLayout.JAVA_BYTE, i, (byte) i);
                }
            }
            float[] all = new float[count];
            Codec.decode(dt, s, 0, all, 0, count);
            for (float f : all) {
                if (!Float.isNaN(f)) {
                    out[n++] = f;
                }
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void everyDtypeRoundTripsExactly(DType dt) throws IOException {
        float[] values = exactValues(dt);
        Path p = dir.resolve(dt + ".safetensors");
        write(p, dt, values);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            TensorInfo t = f.tensor("t");
            assertThat(t.dtype()).isEqualTo(dt);
            assertThat(t.shape()).containsExactly(values.length);
            assertThat(f.metadata()).containsEntry("format", "pt");
            float[] back = new float[values.length];
            Codec.decode(dt, f.data(t), 0, back, 0, values.length);
            for (int i = 0; i < values.length; i++) {
                assertThat(Float.floatToRawIntBits(back[i])).as("%s element %d (%s)", dt, i, values[i])
                        .isEqualTo(Float.floatToRawIntBits(values[i]));
            }
        }
    }

    @Test
    void bf16RoundsToNearestEvenWithSpecialValues() throws IOException {
        int[] in = {0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF, 0x7FC00000, 0xFFC00001, 0x7F800001,
                0x7F800000, 0xFF800000, 0x7F7FFFFF, 0x00000001, 0x00008000, 0x00018000, 0x00010000,
                0x80000000, 0x80018000};
        short[] expected = {0x3F80, 0x3F82, 0x3F81, 0x3F80, 0x7FC0, 0x7FC0, 0x7FC0,
                0x7F80, (short) 0xFF80, 0x7F80, 0x0000, 0x0000, 0x0002, 0x0001,
                (short) 0x8000, (short) 0x8002};
        checkBits(DType.BF16, in, expected);
    }

    @Test
    void f16RoundsToNearestEvenWithSpecialValues() throws IOException {
        float[] in = {1f + 0x1p-11f, 1f + 3 * 0x1p-11f, 65520f, 65519.99f, 0x1p-24f, 0x1p-25f, 3 * 0x1p-25f,
                -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0x1p-14f, -0x1.ffcp-15f, 1e-9f};
        short[] expected = {0x3C00, 0x3C02, 0x7C00, 0x7BFF, 0x0001, 0x0000, 0x0002,
                (short) 0x8000, 0x7C00, (short) 0xFC00, 0x0400, (short) 0x8400, 0x0000};
        int[] bits = new int[in.length];
        for (int i = 0; i < in.length; i++) {
            bits[i] = Float.floatToRawIntBits(in[i]);
        }
        checkBits(DType.F16, bits, expected);
        Path p = dir.resolve("nan.safetensors");
        write(p, DType.F16, new float[] {Float.NaN, Float.intBitsToFloat(0xFFC00000)});
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            float[] back = new float[2];
            Codec.decode(DType.F16, f.data(f.tensor("t")), 0, back, 0, 2);
            assertThat(back[0]).isNaN();
            assertThat(back[1]).isNaN();
        }
    }

    private void checkBits(DType dt, int[] inBits, short[] expected) throws IOException {
        float[] in = new float[inBits.length];
        for (int i = 0; i < in.length; i++) {
            in[i] = Float.intBitsToFloat(inBits[i]);
        }
        Path p = dir.resolve("bits-" + dt + ".safetensors");
        write(p, dt, in);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            MemorySegment s = f.data(f.tensor("t"));
            for (int i = 0; i < in.length; i++) {
                short got = s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i);
                assertThat(Integer.toHexString(got & 0xFFFF)).as("%s of float bits 0x%08x", dt, inBits[i])
                        .isEqualTo(Integer.toHexString(expected[i] & 0xFFFF));
            }
        }
    }

    private static void write(Path p, DType dt, float[] values) {
        try (SafetensorsWriter w = SafetensorsWriter.create(p,
                List.of(new SafetensorsWriter.Entry("t", dt, new long[] {values.length})), Map.of("format", "pt"));
             Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate((long) values.length * dt.byteSize());
            Codec.encode(dt, values, 0, values.length, buf, 0);
            w.write("t", 0, buf);
            w.finish();
        }
    }
}
