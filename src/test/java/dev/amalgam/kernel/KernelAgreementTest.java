package dev.amalgam.kernel;

import dev.amalgam.io.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The Vector API kernels against the scalar reference, bit for bit: odd sizes, unaligned offsets,
 * every float16 and bfloat16 pattern, the neighbours and midpoints of every pattern, and random
 * values of every class (NaN payloads, infinities, subnormals, overflow, ties). Conversions agree
 * on every bit; merge passes on every bit of every number, and on NaN-ness where arithmetic makes
 * the NaN.
 */
class KernelAgreementTest {

    private static final int[] SIZES = {1, 3, 7, 15, 17, 31, 1023};
    private static final long SEED = 0x5EED_AB1EL;
    private static final ValueLayout.OfShort SHORT_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static KernelProvider scalar;
    private static KernelProvider vector;

    @BeforeAll
    static void providers() {
        scalar = Kernels.scalar();
        vector = Kernels.vector();
    }

    @Test
    void theVectorKernelsAreChosenWhenTheModuleIsPresent() {
        assertThat(ModuleLayer.boot().findModule("jdk.incubator.vector")).isPresent();
        assumeTrue(vector != null, "this CPU has no vectors of 128 bits or more");
        assertThat(Kernels.describe()).startsWith("vector (");
        assertThat(Kernels.get()).isSameAs(vector);
    }

    // ---------------------------------------------------------------------------------- inputs

    /** Every 16-bit pattern. */
    private static short[] allHalves() {
        short[] h = new short[65536];
        for (int i = 0; i < h.length; i++) {
            h[i] = (short) i;
        }
        return h;
    }

    /**
     * Floats around every float16 or bfloat16 value: the value, its float32 neighbours, the midpoint
     * to the next value (a tie) and the midpoint's neighbours; NaNs with many payloads included.
     */
    private static float[] aroundEveryHalf(DType dt) {
        float[] out = new float[65536 * 6];
        int k = 0;
        for (int h = 0; h < 65536; h++) {
            float v = dt == DType.BF16 ? Float.intBitsToFloat(h << 16) : Float.float16ToFloat((short) h);
            int b = Float.floatToRawIntBits(v);
            int half = dt == DType.BF16 ? 0x8000 : (Math.abs(v) < 0x1p-14f ? 0 : 0x1000);
            int mid = half == 0 ? Float.floatToRawIntBits(v + Math.copySign(0x1p-25f, v)) : b + half;
            out[k++] = v;
            out[k++] = Float.intBitsToFloat(b + 1);
            out[k++] = Float.intBitsToFloat(b - 1);
            out[k++] = Float.intBitsToFloat(mid);
            out[k++] = Float.intBitsToFloat(mid + 1);
            out[k++] = Float.intBitsToFloat(mid - 1);
        }
        return out;
    }

    /** Random floats of every class (see {@link CodecTest#randomFloats}), plus NaNs with random payloads. */
    private static float[] randomFloats(SplittableRandom r, int n) {
        float[] a = CodecTest.randomFloats(r, n);
        for (int i = 0; i < n; i++) {
            if (r.nextInt(50) == 0) {
                a[i] = Float.intBitsToFloat(0x7F800001 | r.nextInt() & 0x807FFFFF);
            }
        }
        return a;
    }

    /** Values a merge actually sees: rounded to {@code dt}, mostly small, a few specials. */
    private static float[] weights(SplittableRandom r, int n, DType dt) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = Codec.round(dt, r.nextInt(40) == 0 ? CodecTest.randomFloats(r, 1)[0] : (float) (0.05 * r.nextGaussian()));
        }
        return a;
    }

    private static void assertSameBits(float[] expected, float[] actual, String what) {
        assertSame(expected, actual, what, false);
    }

    /**
     * Same bits, except that with {@code anyNaN} two NaNs match whatever their payloads: the payload
     * and sign of a NaN made by arithmetic are not specified by Java, and differ between C2
     * compilations of the scalar loops themselves.
     */
    private static void assertSame(float[] expected, float[] actual, String what, boolean anyNaN) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < expected.length; i++) {
            int e = Float.floatToRawIntBits(expected[i]);
            int a = Float.floatToRawIntBits(actual[i]);
            if (e != a && !(anyNaN && Float.isNaN(expected[i]) && Float.isNaN(actual[i]))) {
                fail(String.format(java.util.Locale.ROOT, "%s: element %d: scalar 0x%08X, vector 0x%08X", what, i, e, a));
            }
        }
    }

    private static void assertSameBytes(MemorySegment expected, MemorySegment actual, String what) {
        long m = expected.mismatch(actual);
        if (m >= 0) {
            fail(String.format(java.util.Locale.ROOT, "%s: first difference at byte %d", what, m));
        }
    }

    // --------------------------------------------------------------------------------- decode

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"F16", "BF16"})
    void decodeOfEveryPatternAgrees(DType dt) {
        assumeTrue(vector != null);
        short[] h = allHalves();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2L * h.length + 1);
            for (int offset : new int[] {0, 1}) {
                MemorySegment.copy(h, 0, seg, SHORT_LE, offset, h.length);
                float[] s = new float[h.length];
                float[] v = new float[h.length];
                decode(scalar, dt, seg, offset, s, 0, h.length);
                decode(vector, dt, seg, offset, v, 0, h.length);
                assertSameBits(s, v, dt + " decode at byte offset " + offset);
            }
        }
    }

    @ParameterizedTest(name = "{0} seed 0x5EEDAB1E")
    @EnumSource(value = DType.class, names = {"F16", "BF16"})
    void decodeOnOddSizesAndOffsets(DType dt) {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        try (Arena arena = Arena.ofConfined()) {
            for (int n : SIZES) {
                for (int offset : new int[] {0, 1, 6}) {
                    MemorySegment seg = arena.allocate(2L * n + offset);
                    for (int i = 0; i < n; i++) {
                        seg.set(SHORT_LE, offset + 2L * i, (short) r.nextInt());
                    }
                    float[] s = new float[n + 3];
                    float[] v = new float[n + 3];
                    decode(scalar, dt, seg, offset, s, 3, n);
                    decode(vector, dt, seg, offset, v, 3, n);
                    assertSameBits(s, v, dt + " decode n=" + n + " offset=" + offset);
                }
            }
        }
    }

    @Test
    void decodeFromAHeapSegmentThatIsNotBytes() {
        assumeTrue(vector != null);
        short[] h = allHalves();
        MemorySegment seg = MemorySegment.ofArray(h);
        for (DType dt : new DType[] {DType.F16, DType.BF16}) {
            float[] s = new float[h.length];
            float[] v = new float[h.length];
            decode(scalar, dt, seg, 0, s, 0, h.length);
            decode(vector, dt, seg, 0, v, 0, h.length);
            assertSameBits(s, v, dt + " decode from short[]");
        }
    }

    private static void decode(KernelProvider k, DType dt, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        if (dt == DType.BF16) {
            k.decodeBf16(src, off, dst, dstOff, n);
        } else {
            k.decodeF16(src, off, dst, dstOff, n);
        }
    }

    // ---------------------------------------------------------------------------- encode, round

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"F16", "BF16"})
    void encodeAndRoundAgreeAroundEveryPattern(DType dt) {
        assumeTrue(vector != null);
        checkEncodeAndRound(dt, aroundEveryHalf(dt), "around every pattern");
    }

    @ParameterizedTest(name = "{0} seed 0x5EEDAB1E")
    @EnumSource(value = DType.class, names = {"F16", "BF16"})
    void encodeAndRoundAgreeOnRandomFloats(DType dt) {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        checkEncodeAndRound(dt, randomFloats(r, 1 << 18), "random floats");
    }

    @ParameterizedTest(name = "{0} seed 0x5EEDAB1E")
    @EnumSource(value = DType.class, names = {"F16", "BF16"})
    void encodeAndRoundOnOddSizesAndOffsets(DType dt) {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        for (int n : SIZES) {
            float[] x = randomFloats(r, n + 5);
            try (Arena arena = Arena.ofConfined()) {
                for (int offset : new int[] {0, 1, 6}) {
                    MemorySegment s = arena.allocate(2L * n + offset);
                    MemorySegment v = arena.allocate(2L * n + offset);
                    encode(scalar, dt, x, 5, n, s, offset);
                    encode(vector, dt, x, 5, n, v, offset);
                    assertSameBytes(s, v, dt + " encode n=" + n + " offset=" + offset);
                }
            }
            float[] s = x.clone();
            float[] v = x.clone();
            round(scalar, dt, s, 2, n);
            round(vector, dt, v, 2, n);
            assertSameBits(s, v, dt + " round n=" + n);
        }
    }

    private static void checkEncodeAndRound(DType dt, float[] x, String what) {
        int n = x.length;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(2L * n);
            MemorySegment v = arena.allocate(2L * n);
            encode(scalar, dt, x, 0, n, s, 0);
            encode(vector, dt, x, 0, n, v, 0);
            assertSameBytes(s, v, dt + " encode " + what);
        }
        float[] s = x.clone();
        float[] v = x.clone();
        round(scalar, dt, s, 0, n);
        round(vector, dt, v, 0, n);
        assertSameBits(s, v, dt + " round " + what);
    }

    private static void encode(KernelProvider k, DType dt, float[] src, int srcOff, int n, MemorySegment dst, long off) {
        if (dt == DType.BF16) {
            k.encodeBf16(src, srcOff, n, dst, off);
        } else {
            k.encodeF16(src, srcOff, n, dst, off);
        }
    }

    private static void round(KernelProvider k, DType dt, float[] a, int off, int n) {
        if (dt == DType.BF16) {
            k.roundBf16(a, off, n);
        } else {
            k.roundF16(a, off, n);
        }
    }

    @Test
    void bf16NaNBecomesTheCanonicalQuietNaN() {
        assumeTrue(vector != null);
        float[] x = new float[64];
        for (int i = 0; i < x.length; i++) {
            x[i] = Float.intBitsToFloat(i % 2 == 0 ? 0x7F800001 + i : 0xFFFFFFFF - i);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2L * x.length);
            vector.encodeBf16(x, 0, x.length, seg, 0);
            for (int i = 0; i < x.length; i++) {
                assertThat(seg.get(SHORT_LE, 2L * i)).isEqualTo((short) 0x7FC0);
            }
        }
        vector.roundBf16(x, 0, x.length);
        for (float f : x) {
            assertThat(Float.floatToRawIntBits(f)).isEqualTo(0x7FC00000);
        }
    }

    // ------------------------------------------------------------------------ lerp, weighted sum

    @ParameterizedTest(name = "{0} seed 0x5EEDAB1E")
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16", "F8_E4M3"})
    void lerpAgrees(DType dt) {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        float[][] coefficients = {{0.5f, 0.5f}, {0.3f, 0.7f}, {1f, 0f}, {-0.25f, 1.25f}, {0.98f, 0.0303f}};
        for (int n : new int[] {1, 3, 7, 15, 17, 31, 1023, 65536}) {
            float[] a = weights(r, n, dt);
            float[] b = weights(r, n, dt);
            for (float[] c : coefficients) {
                float[] s = new float[n];
                float[] v = new float[n];
                scalar.lerp(dt, c[0], a, c[1], b, s, n);
                vector.lerp(dt, c[0], a, c[1], b, v, n);
                assertSame(s, v, dt + " lerp n=" + n + " c=" + c[0] + "," + c[1], true);
            }
            float[] x = randomFloats(r, n);
            float[] y = randomFloats(r, n);
            float[] s = new float[n];
            float[] v = new float[n];
            scalar.lerp(dt, 0.6f, x, 0.4f, y, s, n);
            vector.lerp(dt, 0.6f, x, 0.4f, y, v, n);
            assertSame(s, v, dt + " lerp of random floats n=" + n, true);
        }
    }

    @ParameterizedTest(name = "{0} operands seed 0x5EEDAB1E")
    @ValueSource(ints = {1, 2, 3, 5})
    void weightedSumAgrees(int operands) {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED + operands);
        for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16, DType.F8_E5M2}) {
            for (int n : new int[] {1, 3, 7, 15, 17, 31, 1023, 65536}) {
                float[][] in = new float[operands][];
                float[][] wild = new float[operands][];
                float[] w = new float[operands];
                float sum = 0;
                for (int k = 0; k < operands; k++) {
                    in[k] = weights(r, n, dt);
                    wild[k] = randomFloats(r, n);
                    w[k] = Codec.round(dt, (float) r.nextDouble(-0.5, 1.5));
                    sum += w[k];
                }
                float divisor = Codec.round(dt, sum);
                for (boolean normalize : new boolean[] {true, false}) {
                    for (float[][] x : new float[][][] {in, wild}) {
                        float[] s = new float[n];
                        float[] v = new float[n];
                        scalar.weightedSum(dt, w, x, n, normalize, divisor, s);
                        vector.weightedSum(dt, w, x, n, normalize, divisor, v);
                        assertSame(s, v, dt + " weighted sum n=" + n + " normalize=" + normalize
                                + (x == wild ? " random floats" : ""), true);
                    }
                }
            }
        }
    }

    // ----------------------------------------------------------------------- task-vector family

    private static final int[] CHUNKS = {1, 3, 7, 15, 17, 31, 1023, 65536};

    /** float16 rounding in float arithmetic, inside the vector loops, against the F16C round trip. */
    @Test
    void arithmeticFloat16RoundingAgreesAroundEveryPatternAndOnRandomFloats() {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        for (float[] x : new float[][] {aroundEveryHalf(DType.F16), randomFloats(r, 1 << 18)}) {
            float[] s = x.clone();
            float[] v = x.clone();
            scalar.roundF16(s, 0, s.length);
            VectorKernels.roundF16Arithmetic(v, 0, v.length);
            assertSame(s, v, "arithmetic float16 rounding", true);
        }
    }

    @ParameterizedTest(name = "{0} seed 0x5EEDAB1E")
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16", "F8_E4M3"})
    void subtractAndScaleAgree(DType dt) {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        for (int n : CHUNKS) {
            for (boolean wild : new boolean[] {false, true}) {
                float[] x = wild ? randomFloats(r, n) : weights(r, n, dt);
                float[] b = wild ? randomFloats(r, n) : weights(r, n, dt);
                float[] s = new float[n];
                float[] v = new float[n];
                scalar.subRound(dt, x, b, s, n);
                vector.subRound(dt, x, b, v, n);
                assertSame(s, v, dt + " subRound n=" + n + " wild=" + wild, true);
                float f = wild ? 1e30f : Codec.round(dt, 0.37f);
                scalar.scaleRound(dt, s, f, n);
                vector.scaleRound(dt, v, f, n);
                assertSame(s, v, dt + " scaleRound n=" + n + " wild=" + wild, true);
            }
        }
    }

    @Test
    void interleavedAbsoluteSumsAgreeAtEveryOffset() {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        for (int n : CHUNKS) {
            float[] x = weights(r, n, DType.BF16);
            for (long offset : new long[] {0, 8, 3, 65536 + 5}) {
                double[] s = new double[8];
                double[] v = new double[8];
                s[2] = v[2] = 1.5;
                scalar.sumAbs(x, n, offset, s);
                vector.sumAbs(x, n, offset, v);
                assertThat(v).as("sumAbs n=%d offset=%d", n, offset).containsExactly(s);
            }
        }
        // sums that are exact in double agree with the plain sum however they are interleaved
        float[] ones = new float[1023];
        java.util.Arrays.fill(ones, -0.5f);
        double[] acc = new double[8];
        vector.sumAbs(ones, ones.length, 0, acc);
        assertThat(Kernels.total(acc)).isEqualTo(511.5);
    }

    @Test
    void nonFiniteCountsAgree() {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE,
            -Float.MAX_VALUE, Float.MIN_VALUE, -0f, Float.intBitsToFloat(0xFFC00001), Float.intBitsToFloat(0x7F800001)};
        for (int n : CHUNKS) {
            float[] x = randomFloats(r, n);
            long expected = 0;
            for (int i = 0; i < n; i++) {
                if (r.nextInt(7) == 0) {
                    x[i] = special[r.nextInt(special.length)];
                }
                expected += Float.isFinite(x[i]) ? 0 : 1;
            }
            assertThat(scalar.countNonFinite(x, n)).as("scalar n=%d", n).isEqualTo(expected);
            assertThat(vector.countNonFinite(x, n)).as("vector n=%d", n).isEqualTo(expected);
        }
    }

    @Test
    void bracketKeysAgree() {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        for (int n : CHUNKS) {
            float[] x = tiedAt(weights(r, n, DType.BF16), 5);
            if (n > 3) {
                x[1] = Float.NaN;
                x[2] = -0f;
                x[3] = Float.NEGATIVE_INFINITY;
            }
            int[][] brackets = {{Float.floatToRawIntBits(0.01f), Float.floatToRawIntBits(0.0625f)},
                    {Float.floatToRawIntBits(0.0625f), Float.floatToRawIntBits(0.0625f)}, {0, 0x7FFFFFFF},
                    {Float.floatToRawIntBits(1e9f), 0x7FFFFFFF}, {0, 0}};
            for (int[] b : brackets) {
                int[] ins = new int[n + 16];
                int[] inv = new int[n + 16];
                long rs = scalar.bracketKeys(x, n, b[0], b[1], ins);
                long rv = vector.bracketKeys(x, n, b[0], b[1], inv);
                String what = "bracketKeys n=" + n + " [" + b[0] + ", " + b[1] + "]";
                assertThat(rv).as(what).isEqualTo(rs);
                assertThat(java.util.Arrays.copyOf(inv, (int) rv)).as(what).isEqualTo(java.util.Arrays.copyOf(ins, (int) rs));
                long above = 0;
                int inside = 0;
                for (int e = 0; e < n; e++) {
                    int k = Float.floatToRawIntBits(x[e]) & 0x7FFFFFFF;
                    above += k > b[1] ? 1 : 0;
                    inside += k >= b[0] && k <= b[1] ? 1 : 0;
                }
                assertThat(rs).as(what).isEqualTo(above << 32 | inside);
            }
        }
    }

    @Test
    void magnitudeMaskAgreesWhateverTheQuotaAndChunking() {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        for (int n : CHUNKS) {
            // a threshold that many elements tie at: the magnitude of a frequent value
            float[] x = tiedAt(weights(r, n, DType.BF16), 3);
            int t = Float.floatToRawIntBits(0.0625f);
            for (long quota : new long[] {0, 1, 5, n / 7, n}) {
                for (boolean keep : new boolean[] {true, false}) {
                    float[] s = x.clone();
                    float[] v = x.clone();
                    long ls = scalar.maskTop(s, n, t, quota, keep);
                    long lv = vector.maskTop(v, n, t, quota, keep);
                    assertSameBits(s, v, "maskTop n=" + n + " quota=" + quota + " keep=" + keep);
                    assertThat(lv).isEqualTo(ls);
                    // in two stretches, the quota carried between them, it is the same scan
                    float[] two = x.clone();
                    int half = n / 2;
                    float[] head = java.util.Arrays.copyOfRange(two, 0, half);
                    float[] tail = java.util.Arrays.copyOfRange(two, half, n);
                    long q = vector.maskTop(head, half, t, quota, keep);
                    vector.maskTop(tail, n - half, t, q, keep);
                    System.arraycopy(head, 0, two, 0, half);
                    System.arraycopy(tail, 0, two, half, n - half);
                    assertSameBits(s, two, "maskTop in two stretches n=" + n + " quota=" + quota);
                }
            }
        }
    }

    @Test
    void randomMasksAgree() {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        for (int n : CHUNKS) {
            long stream = r.nextLong();
            long first = r.nextLong(1L << 40);
            int[] ws = new int[n];
            int[] wv = new int[n];
            scalar.keyedWords(stream, first, n, ws);
            vector.keyedWords(stream, first, n, wv);
            assertThat(wv).as("keyedWords n=%d", n).containsExactly(ws);
            for (int threshold : new int[] {0, 1, 1 << 23, 10_000_000, 1 << 24}) {
                long[] bs = new long[(n + 63) / 64];
                long[] bv = new long[(n + 63) / 64];
                java.util.Arrays.fill(bs, -1L);
                java.util.Arrays.fill(bv, -1L);
                scalar.keepBits(ws, n, threshold, bs);
                vector.keepBits(ws, n, threshold, bv);
                assertThat(bv).as("keepBits n=%d threshold=%d", n, threshold).containsExactly(bs);
                int[] each = new int[n];
                for (int e = 0; e < n; e++) {
                    each[e] = e % 3 == 0 ? threshold : r.nextInt((1 << 24) + 1);
                }
                long[] es = new long[(n + 63) / 64];
                long[] ev = new long[(n + 63) / 64];
                java.util.Arrays.fill(ev, -1L);
                scalar.keepBitsEach(ws, each, n, es);
                vector.keepBitsEach(ws, each, n, ev);
                assertThat(ev).as("keepBitsEach n=%d", n).containsExactly(es);
                float[] x = randomFloats(r, n);
                float[] s = x.clone();
                float[] v = x.clone();
                scalar.maskBits(s, n, bs);
                vector.maskBits(v, n, bs);
                assertSameBits(s, v, "maskBits n=" + n + " threshold=" + threshold);
            }
        }
    }

    /** {@code x} with ±0.0625 at every {@code step}-th element: many magnitudes tied at one key. */
    private static float[] tiedAt(float[] x, int step) {
        for (int i = 0; i < x.length; i += step) {
            x[i] = (i & 1) == 0 ? 0.0625f : -0.0625f;
        }
        return x;
    }

    /** The float32 sum of {@code w}, in order. */
    private static float sumInOrder(float[] w) {
        float sum = 0;
        for (float wj : w) {
            sum += wj;
        }
        return sum;
    }

    /** Per-model weights in [-0.5, 1.5), rounded to {@code dt}. */
    private static float[] modelWeights(SplittableRandom r, DType dt, int models) {
        float[] w = new float[models];
        for (int j = 0; j < models; j++) {
            w[j] = Codec.round(dt, (float) r.nextDouble(-0.5, 1.5));
        }
        return w;
    }

    /**
     * The fused task sum against the three scalar kernels it fuses (subRound, scaleRound,
     * taskCombine without consensus; the scalar taskSum is that composition), on models laid out
     * around a base that is not operand 0.
     */
    @ParameterizedTest(name = "{0} models seed 0x5EEDAB1E")
    @ValueSource(ints = {1, 2, 3, 5})
    void fusedTaskSumAgreesWithItsSteps(int models) {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED + 31 * models);
        for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16, DType.F8_E4M3}) {
            for (int n : CHUNKS) {
                float[] w = modelWeights(r, dt, models);
                float sum = sumInOrder(w);
                int baseAt = models / 2;
                int[] order = new int[models];
                for (int j = 0, k = 0; j <= models; j++) {
                    if (j != baseAt) {
                        order[k++] = j;
                    }
                }
                for (boolean wild : new boolean[] {false, true}) {
                    float[][] in = new float[models + 1][];
                    for (int k = 0; k <= models; k++) {
                        in[k] = wild ? randomFloats(r, n) : weights(r, n, dt);
                    }
                    // models equal to the base (zero task vectors) and cancelling task vectors
                    for (int e = 1; e < n; e += 6) {
                        in[order[0]][e] = in[baseAt][e];
                    }
                    for (int flags = 0; flags < 4; flags++) {
                        boolean normalize = (flags & 1) != 0;
                        boolean scale = (flags & 2) != 0;
                        float div = Codec.round(dt, sum) == 0f ? 1f : Codec.round(dt, sum);
                        float[][] steps = new float[models][n];
                        for (int j = 0; j < models; j++) {
                            scalar.subRound(dt, in[order[j]], in[baseAt], steps[j], n);
                            scalar.scaleRound(dt, steps[j], w[j], n);
                        }
                        float[] expected = new float[n];
                        scalar.taskCombine(dt, steps, w, in[baseAt], n, false, normalize, div, scale, 0.9f, expected);
                        float[] v = new float[n];
                        vector.taskSum(dt, in, order, in[baseAt], w, n, normalize, div, scale, 0.9f,
                                new float[models][n], v);
                        assertSame(expected, v, dt + " taskSum n=" + n + " normalize=" + normalize + " scale="
                                + scale + " wild=" + wild, true);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} models seed 0x5EEDAB1E")
    @ValueSource(ints = {1, 2, 3, 5})
    void taskCombinationAgrees(int models) {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED + models);
        for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16, DType.F8_E4M3}) {
            for (int n : CHUNKS) {
                float[] w = modelWeights(r, dt, models);
                float sum = sumInOrder(w);
                for (boolean wild : new boolean[] {false, true}) {
                    float[][] wd = new float[models][];
                    for (int j = 0; j < models; j++) {
                        wd[j] = wild ? randomFloats(r, n) : weights(r, n, dt);
                        // zeros, pruned elements and exact cancellations
                        for (int e = j; e < n; e += 5) {
                            wd[j][e] = (e & 1) == 0 ? 0f : -0f;
                        }
                    }
                    if (models > 1) {
                        for (int e = 2; e < n; e += 7) {
                            wd[1][e] = -wd[0][e];
                        }
                    }
                    if (wild) {
                        // sums at the edge of rounding to -0 in bfloat16 (|s| ≤ 2^-134) and of staying negative
                        int[] tiny = {0x80000001, 0x80004000, 0x80008000, 0x80008001, 0x80010000};
                        for (int e = 3, i = 0; e < n; e += 11, i++) {
                            wd[0][e] = Float.intBitsToFloat(tiny[i % tiny.length]);
                            for (int j = 1; j < models; j++) {
                                wd[j][e] = (i & 1) == 0 ? 0f : Float.intBitsToFloat(0x00000100);
                            }
                        }
                    }
                    float[] base = wild ? randomFloats(r, n) : weights(r, n, dt);
                    for (int flags = 0; flags < 8; flags++) {
                        boolean consensus = (flags & 1) != 0;
                        boolean normalize = (flags & 2) != 0;
                        boolean scale = (flags & 4) != 0;
                        float[] s = new float[n];
                        float[] v = new float[n];
                        scalar.taskCombine(dt, copy(wd), w, base, n, consensus, normalize, Codec.round(dt, sum),
                                scale, 0.9f, s);
                        vector.taskCombine(dt, copy(wd), w, base, n, consensus, normalize, Codec.round(dt, sum),
                                scale, 0.9f, v);
                        assertSame(s, v, dt + " taskCombine n=" + n + " consensus=" + consensus + " normalize="
                                + normalize + " scale=" + scale + " wild=" + wild, true);
                    }
                }
            }
        }
    }

    private static float[][] copy(float[][] a) {
        float[][] c = new float[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }

    // ---- model stock

    /** Where the interleaved sums start: at sum 0, a whole stride later, and in the middle of one. */
    private static final long[] KEYS = {0, 8, 3};

    /** Input kinds for the model stock kernels: {@link #weights}, {@link #randomFloats}, {@link #wide}. */
    private static final String[] KINDS = {"weights", "wild", "wide"};

    /**
     * Finite values of {@code dt} over many binades (as wide as float16 allows without its products
     * overflowing), so that their sums in double round and depend on the order of the additions.
     */
    private static float[] wide(SplittableRandom r, int n, DType dt) {
        int lo = dt == DType.F16 ? -10 : -40;
        int hi = dt == DType.F16 ? 6 : 40;
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            float m = (r.nextBoolean() ? -1f : 1f) * (1f + r.nextFloat());
            a[i] = Codec.round(dt, Math.scalb(m, r.nextInt(lo, hi + 1)));
        }
        return a;
    }

    private static float[] values(SplittableRandom r, int n, DType dt, String kind) {
        return switch (kind) {
            case "weights" -> weights(r, n, dt);
            case "wild" -> randomFloats(r, n);
            default -> wide(r, n, dt);
        };
    }

    @ParameterizedTest(name = "{0} seed 0x5EEDAB1E")
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16", "F8_E4M3"})
    void taskVectorAndItsSquaresAgree(DType dt) {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        for (int n : CHUNKS) {
            for (String kind : KINDS) {
                for (int from : new int[] {0, 5}) {
                    float[] x = values(r, from + n, dt, kind);
                    float[] b = values(r, from + n, dt, kind);
                    for (long offset : KEYS) {
                        float[] os = new float[n];
                        float[] ov = new float[n];
                        double[] s = new double[8];
                        double[] v = new double[8];
                        s[2] = v[2] = 1.5;
                        scalar.taskVectorSquares(dt, x, b, from, n, offset, os, s);
                        vector.taskVectorSquares(dt, x, b, from, n, offset, ov, v);
                        String what = dt + " taskVectorSquares n=" + n + " from=" + from + " offset=" + offset
                                + " " + kind;
                        assertSame(os, ov, what, true);
                        assertThat(v).as(what).containsExactly(s);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} seed 0x5EEDAB1E")
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16", "F8_E4M3"})
    void sumsOfRoundedProductsAgree(DType dt) {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        for (int n : CHUNKS) {
            for (String kind : KINDS) {
                float[] a = values(r, n, dt, kind);
                float[] b = values(r, n, dt, kind);
                for (long offset : KEYS) {
                    float[] ps = new float[n];
                    float[] pv = new float[n];
                    double[] s = new double[8];
                    double[] v = new double[8];
                    s[5] = v[5] = -0.25;
                    scalar.sumRoundedProducts(dt, a, b, n, offset, ps, s);
                    vector.sumRoundedProducts(dt, a, b, n, offset, pv, v);
                    String what = dt + " sumRoundedProducts n=" + n + " offset=" + offset + " " + kind;
                    assertSame(ps, pv, what, true);
                    assertThat(v).as(what).containsExactly(s);
                }
            }
        }
    }

    /** The interleaved sums depend on element indices only: the same in one call or in two stretches. */
    @ParameterizedTest(name = "{0} seed 0x5EEDAB1E")
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void modelStockSumsDoNotDependOnChunking(DType dt) {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        int n = 1023;
        float[] x = wide(r, n, dt);
        float[] b = wide(r, n, dt);
        double[] whole = new double[8];
        double[] wholeProducts = new double[8];
        float[] o = new float[n];
        vector.taskVectorSquares(dt, x, b, 0, n, 0, o, whole);
        vector.sumRoundedProducts(dt, o, x, n, 0, new float[n], wholeProducts);
        for (int half : new int[] {1, 3, 8, 100, 517}) {
            double[] parts = new double[8];
            double[] partsProducts = new double[8];
            float[] head = new float[half];
            float[] tail = new float[n - half];
            vector.taskVectorSquares(dt, x, b, 0, half, 0, head, parts);
            vector.taskVectorSquares(dt, x, b, half, n - half, half, tail, parts);
            float[] joined = new float[n];
            System.arraycopy(head, 0, joined, 0, half);
            System.arraycopy(tail, 0, joined, half, n - half);
            assertSameBits(o, joined, dt + " task vector in two stretches at " + half);
            assertThat(parts).as("%s squares in two stretches at %d", dt, half).containsExactly(whole);
            vector.sumRoundedProducts(dt, head, java.util.Arrays.copyOfRange(x, 0, half), half, 0, new float[half],
                    partsProducts);
            vector.sumRoundedProducts(dt, tail, java.util.Arrays.copyOfRange(x, half, n), n - half, half,
                    new float[n - half], partsProducts);
            assertThat(partsProducts).as("%s products in two stretches at %d", dt, half).containsExactly(wholeProducts);
        }
    }

    @ParameterizedTest(name = "{0} models seed 0x5EEDAB1E")
    @ValueSource(ints = {1, 2, 3, 5})
    void stockBlendAgrees(int models) {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED + models);
        int base = models / 2;
        int[] others = new int[models];
        for (int k = 0, j = 0; k <= models; k++) {
            if (k != base) {
                others[j++] = k;
            }
        }
        for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16, DType.F8_E4M3}) {
            for (int n : CHUNKS) {
                for (String kind : KINDS) {
                    boolean wild = kind.equals("wild");
                    float[][] in = new float[models + 1][];
                    for (int k = 0; k <= models; k++) {
                        in[k] = values(r, n, dt, kind);
                    }
                    float[] ratios = wild ? new float[] {1e30f, Float.NaN, -0.5f}
                            : new float[] {Codec.round(dt, 0.7f), 0f, 1f, Codec.round(dt, 1.1f)};
                    for (float t : ratios) {
                        float keep = Codec.round(dt, 1f - t);
                        for (int from : new int[] {0, Math.min(3, n)}) {
                            float[] s = new float[n];
                            float[] v = new float[n];
                            java.util.Arrays.fill(s, 7f);
                            java.util.Arrays.fill(v, 7f);
                            scalar.stockBlend(dt, in, others, in[base], t, keep, from, n, s);
                            vector.stockBlend(dt, in, others, in[base], t, keep, from, n, v);
                            String what = dt + " stockBlend n=" + n + " from=" + from + " t=" + t + " " + kind;
                            assertSame(s, v, what, true);
                        }
                    }
                }
            }
        }
    }

    @Test
    void magnitudeKeysAndTheirRangeAgree() {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        for (int n : CHUNKS) {
            for (DType dt : new DType[] {DType.BF16, DType.F16}) {
                float[] v = new float[n + 5];
                float[] w = weights(r, n + 5, dt);
                System.arraycopy(w, 0, v, 0, v.length);
                for (int e = 0; e < v.length; e += 4) {
                    v[e] = (e & 1) == 0 ? 0f : -0f;
                }
                int shift = dt == DType.BF16 ? 16 : 13;
                int[] ks = new int[n];
                int[] kv = new int[n];
                long s = scalar.magnitudeKeys(v, 5, n, shift, ks);
                long x = vector.magnitudeKeys(v, 5, n, shift, kv);
                assertThat(kv).as("keys %s n=%d", dt, n).containsExactly(ks);
                assertThat(x).as("range %s n=%d", dt, n).isEqualTo(s);
            }
        }
        float[] zeros = new float[33];
        assertThat(vector.magnitudeKeys(zeros, 0, 33, 16, new int[33])).isEqualTo(0x7FFFFFFFL);
    }

    @Test
    void slerpReductionsAgreeAtEveryOffset() {
        assumeTrue(vector != null);
        SplittableRandom r = new SplittableRandom(SEED);
        for (int n : CHUNKS) {
            for (boolean wild : new boolean[] {false, true}) {
                float[] a = wild ? randomFloats(r, n) : weights(r, n, DType.BF16);
                float[] b = wild ? randomFloats(r, n) : weights(r, n, DType.BF16);
                for (long offset : new long[] {0, 8, 3}) {
                    double[] s = new double[8];
                    double[] v = new double[8];
                    scalar.sumSquares(a, n, offset, s);
                    vector.sumSquares(a, n, offset, v);
                    assertThat(v).as("sumSquares n=%d offset=%d wild=%s", n, offset, wild).containsExactly(s);
                    double[][] sums = new double[6][8];
                    sums[0][3] = sums[3][3] = 0.25; // the sums carry on from what they hold
                    scalar.slerpSums(a, b, n, offset, sums[0], sums[1], sums[2]);
                    vector.slerpSums(a, b, n, offset, sums[3], sums[4], sums[5]);
                    double[] squaresB = new double[8];
                    scalar.sumSquares(b, n, offset, squaresB);
                    assertThat(sums[1]).as("slerpSums' |b|² is sumSquares'").containsExactly(squaresB);
                    for (int j = 0; j < 3; j++) {
                        for (int i = 0; i < 8; i++) {
                            // NaN lanes match as NaN (their payloads are arithmetic's), numbers bit for bit
                            assertThat(Double.valueOf(sums[3 + j][i]))
                                    .as("slerpSums %d n=%d offset=%d wild=%s lane %d", j, n, offset, wild, i)
                                    .isEqualTo(Double.valueOf(sums[j][i]));
                        }
                    }
                }
            }
        }
    }
}
