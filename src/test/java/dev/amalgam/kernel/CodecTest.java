package dev.amalgam.kernel;

import dev.amalgam.io.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Codec against the naive reference, on odd sizes and unaligned offsets, plus exhaustive checks. */
class CodecTest {

    private static final int[] SIZES = {1, 3, 7, 15, 17, 31, 1023};
    private static final long SEED = 0x5EED_C0DECL;

    /** Random floats that hit every class: random bit patterns, NaNs, infinities, subnormals, ties, ints. */
    static float[] randomFloats(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = switch (r.nextInt(10)) {
                case 0 -> Float.intBitsToFloat(r.nextInt());
                case 1 -> Float.intBitsToFloat((r.nextInt() & 0xFFFF0000) | 0x8000); // bf16 ties
                case 2 -> Float.intBitsToFloat((r.nextInt() & 0xFFFFE000) | 0x1000); // f16 ties
                case 3 -> new float[] {Float.NaN, Float.intBitsToFloat(0xFFC00000), Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f,
                        Float.MIN_VALUE, 448f, 464f, 465f, 480f, 57344f, 61440f, 65504f, 65520f}[r.nextInt(15)];
                case 4 -> (float) r.nextGaussian() * 1e-6f;
                case 5 -> (float) (r.nextInt(2001) - 1000) / 2f;
                case 6 -> (float) r.nextGaussian() * 300f;
                case 7 -> (float) r.nextGaussian() * 1e10f;
                default -> (float) r.nextGaussian();
            };
        }
        return a;
    }

    @ParameterizedTest(name = "{0} seed 0x5EEDC0DE")
    @EnumSource(DType.class)
    void decodeMatchesReferenceOnOddSizesAndUnalignedOffsets(DType dt) {
        SplittableRandom r = new SplittableRandom(SEED ^ dt.ordinal());
        for (int n : SIZES) {
            for (int byteOff : new int[] {0, 1, 3}) {
                for (int dstOff : new int[] {0, 5}) {
                    byte[] raw = new byte[byteOff + n * dt.byteSize() + 2];
                    for (int i = 0; i < raw.length; i++) {
                        raw[i] = (byte) r.nextInt(256);
                    }
                    float[] got = new float[dstOff + n + 1];
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment s = a.allocate(raw.length);
                        MemorySegment.copy(raw, 0, s, ValueLayout.JAVA_BYTE, 0, raw.length);
                        Codec.decode(dt, s, byteOff, got, dstOff, n);
                    }
                    ByteBuffer ref = ByteBuffer.wrap(raw, byteOff, raw.length - byteOff).slice();
                    for (int i = 0; i < n; i++) {
                        float want = CodecReference.decode(dt, ref, i);
                        String where = String.format(java.util.Locale.ROOT,
                                "%s n=%d byteOff=%d i=%d (reproduce: seed 0x%X)", dt, n, byteOff, i, SEED);
                        if (Float.isNaN(want)) {
                            assertThat(got[dstOff + i]).as(where).isNaN();
                        } else {
                            assertThat(Float.floatToRawIntBits(got[dstOff + i])).as(where)
                                    .isEqualTo(Float.floatToRawIntBits(want));
                        }
                    }
                    assertThat(got[dstOff + n]).isZero();
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} seed 0x5EEDC0DE")
    @EnumSource(DType.class)
    void encodeMatchesReferenceOnOddSizesAndUnalignedOffsets(DType dt) {
        SplittableRandom r = new SplittableRandom(SEED + dt.ordinal());
        for (int n : SIZES) {
            for (int byteOff : new int[] {0, 1, 3}) {
                for (int srcOff : new int[] {0, 5}) {
                    float[] src = randomFloats(r, srcOff + n);
                    byte[] got = new byte[byteOff + n * dt.byteSize() + 1];
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment s = a.allocate(got.length);
                        Codec.encode(dt, src, srcOff, n, s, byteOff);
                        MemorySegment.copy(s, ValueLayout.JAVA_BYTE, 0, got, 0, got.length);
                    }
                    ByteBuffer want = ByteBuffer.allocate(n * dt.byteSize());
                    for (int i = 0; i < n; i++) {
                        CodecReference.encode(dt, src[srcOff + i], want, i);
                    }
                    ByteBuffer gotView = ByteBuffer.wrap(got, byteOff, n * dt.byteSize()).slice();
                    for (int i = 0; i < n; i++) {
                        float x = src[srcOff + i];
                        String where = String.format(java.util.Locale.ROOT,
                                "%s n=%d byteOff=%d i=%d x=%s bits=0x%08X (reproduce: seed 0x%X)", dt, n, byteOff, i, x,
                                Float.floatToRawIntBits(x), SEED);
                        if (dt == DType.F16 && Float.isNaN(x)) {
                            // Java keeps NaN payload bits where torch's scalar path canonicalises: only NaN-ness is specified
                            assertThat(CodecReference.decode(dt, gotView, i)).as(where).isNaN();
                            continue;
                        }
                        for (int k = 0; k < dt.byteSize(); k++) {
                            assertThat(gotView.get(i * dt.byteSize() + k)).as(where + " byte " + k)
                                    .isEqualTo(want.get(i * dt.byteSize() + k));
                        }
                    }
                    assertThat(got[byteOff + n * dt.byteSize()]).as("no write past the end").isZero();
                    if (byteOff > 0) {
                        assertThat(got[byteOff - 1]).as("no write before the start").isZero();
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"F16", "BF16"})
    void everyHalfPatternAndEveryTieBetweenNeighbours(DType dt) {
        float[] values = new float[65536];
        float[] ties = new float[65535];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(2 * 65536);
            for (int i = 0; i < 65536; i++) {
                s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) i);
            }
            Codec.decode(dt, s, 0, values, 0, 65536);
            MemorySegment back = a.allocate(2 * 65536);
            Codec.encode(dt, values, 0, 65536, back, 0);
            for (int i = 0; i < 65536; i++) {
                short b = back.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i);
                if (Float.isNaN(values[i])) {
                    assertThat(Float.isNaN(Codec.round(dt, values[i]))).isTrue();
                    if (dt == DType.BF16) {
                        assertThat(b).isEqualTo((short) 0x7FC0);
                    }
                } else {
                    assertThat(b & 0xFFFF).as("pattern 0x%04X", i).isEqualTo(i);
                }
            }
            // ties: the midpoint of two neighbouring finite values of the same sign goes to the even one
            int nt = 0;
            for (int i = 0; i < 65535; i++) {
                float lo = values[i];
                float hi = values[i + 1];
                if (Float.isFinite(lo) && Float.isFinite(hi) && (i & 0x7FFF) != 0x7FFF) {
                    ties[nt++] = (float) (((double) lo + hi) / 2);
                }
            }
            MemorySegment enc = a.allocate(2L * nt);
            Codec.encode(dt, ties, 0, nt, enc, 0);
            for (int k = 0; k < nt; k++) {
                int want = CodecReference.nearest(dt == DType.F16 ? CodecReference.F16 : CodecReference.BF16, ties[k]);
                assertThat(enc.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, k) & 0xFFFF)
                        .as("tie %s", ties[k]).isEqualTo(want);
                assertThat(want & 1).isZero();
            }
        }
    }

    @Test
    void fp8EveryPatternRoundTripsAndTorchOverflowRules() {
        for (int b = 0; b < 256; b++) {
            float e4 = Codec.e4m3ToFloat((byte) b);
            float e5 = Codec.e5m2ToFloat((byte) b);
            if (!Float.isNaN(e4)) {
                assertThat(Codec.floatToE4m3(e4) & 0xFF).as("e4m3 0x%02X", b).isEqualTo(b);
            }
            if (!Float.isNaN(e5)) {
                assertThat(Codec.floatToE5m2(e5) & 0xFF).as("e5m2 0x%02X", b).isEqualTo(b);
            }
        }
        assertThat(Codec.e4m3ToFloat((byte) 0x7E)).isEqualTo(448f);
        assertThat(Codec.e4m3ToFloat((byte) 0x7F)).isNaN();
        assertThat(Codec.e4m3ToFloat((byte) 0x01)).isEqualTo(0x1p-9f);
        assertThat(Codec.floatToE4m3(464f)).isEqualTo((byte) 0x7E);   // tie goes to even 448
        assertThat(Codec.floatToE4m3(464.1f)).isEqualTo((byte) 0x7F); // beyond: NaN, no saturation
        assertThat(Codec.floatToE4m3(-1e9f)).isEqualTo((byte) 0xFF);
        assertThat(Codec.floatToE4m3(Float.POSITIVE_INFINITY)).isEqualTo((byte) 0x7F);
        assertThat(Codec.floatToE4m3(Float.intBitsToFloat(0xFFC00000))).isEqualTo((byte) 0xFF);
        assertThat(Codec.floatToE4m3(-0f)).isEqualTo((byte) 0x80);
        assertThat(Codec.e5m2ToFloat((byte) 0x7B)).isEqualTo(57344f);
        assertThat(Codec.e5m2ToFloat((byte) 0x7C)).isInfinite();
        assertThat(Codec.floatToE5m2(61439f)).isEqualTo((byte) 0x7B);
        assertThat(Codec.floatToE5m2(61440f)).isEqualTo((byte) 0x7C);  // tie goes to even: Inf
        assertThat(Codec.floatToE5m2(Float.NEGATIVE_INFINITY)).isEqualTo((byte) 0xFC);
        assertThat(Codec.floatToE5m2(Float.NaN)).isEqualTo((byte) 0x7F);
    }

    @Test
    void integerEncodingTruncatesTowardZeroAndSaturates() {
        assertThat(Codec.round(DType.I64, 2.9f)).isEqualTo(2f);
        assertThat(Codec.round(DType.I64, -2.9f)).isEqualTo(-2f);
        assertThat(Codec.round(DType.I32, Float.NaN)).isEqualTo(0f);
        assertThat(Codec.round(DType.I32, 1e20f)).isEqualTo((float) Integer.MAX_VALUE);
        assertThat(Codec.round(DType.I8, 300f)).isEqualTo(127f);
        assertThat(Codec.round(DType.U8, -1f)).isEqualTo(0f);
        assertThat(Codec.round(DType.U8, 255.9f)).isEqualTo(255f);
        assertThat(Codec.round(DType.BOOL, Float.NaN)).isEqualTo(1f);
        assertThat(Codec.round(DType.BOOL, -0f)).isEqualTo(0f);
    }

    @ParameterizedTest(name = "{0} seed 0x5EEDC0DE")
    @EnumSource(DType.class)
    void roundIsEncodeThenDecode(DType dt) {
        float[] x = randomFloats(new SplittableRandom(SEED * 31 + dt.ordinal()), 4099);
        float[] viaCodec = new float[x.length];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate((long) x.length * dt.byteSize());
            Codec.encode(dt, x, 0, x.length, s, 0);
            Codec.decode(dt, s, 0, viaCodec, 0, x.length);
        }
        float[] rounded = x.clone();
        Codec.round(dt, rounded, 0, rounded.length);
        for (int i = 0; i < x.length; i++) {
            float scalar = Codec.round(dt, x[i]);
            float want = dt == DType.F64 ? x[i] : viaCodec[i];
            String as = dt + " x=" + x[i] + " (reproduce: seed 0x5EEDC0DE)";
            if (Float.isNaN(want)) {
                assertThat(scalar).as(as).isNaN();
                assertThat(rounded[i]).as(as).isNaN();
            } else {
                assertThat(Float.floatToRawIntBits(scalar)).as(as).isEqualTo(Float.floatToRawIntBits(want));
                assertThat(Float.floatToRawIntBits(rounded[i])).as(as).isEqualTo(Float.floatToRawIntBits(want));
            }
        }
    }

    @Test
    void bf16ScalarHelpers() {
        assertThat(Codec.floatToBf16(1f)).isEqualTo((short) 0x3F80);
        assertThat(Codec.floatToBf16(Float.NaN)).isEqualTo((short) 0x7FC0);
        assertThat(Codec.floatToBf16(Float.intBitsToFloat(0xFFC00001))).isEqualTo((short) 0x7FC0);
        assertThat(Codec.bf16ToFloat((short) 0xC000)).isEqualTo(-2f);
        assertThat(Codec.round(DType.BF16, 0.6f)).isEqualTo(0.6015625f);
        assertThat(Codec.round(DType.F16, 1e-8f)).isEqualTo(0f);
    }

    @Test
    void decodeOfF64RoundsToNearestFloat() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(16);
            s.set(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, 0.1);
            s.set(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8, 1e300);
            float[] f = new float[2];
            Codec.decode(DType.F64, s, 0, f, 0, 2);
            assertThat(f[0]).isEqualTo(0.1f);
            assertThat(f[1]).isEqualTo(Float.POSITIVE_INFINITY);
        }
    }
}
