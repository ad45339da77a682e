package dev.amalgam.kernel;

import dev.amalgam.io.DType;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * JMH benchmarks of the half-precision codecs, scalar against Vector API, on one executor chunk
 * (65536 elements: the float32 side fits in L2, as in a merge). Kernel stage's benchmarks; the
 * score is in elements per nanosecond (Gelem/s).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@OperationsPerInvocation(CodecBenchmark.N)
public class CodecBenchmark {

    static final int N = 65536;

    @Param({"BF16", "F16"})
    public String dtype;

    @Param({"scalar", "vector"})
    public String impl;

    private KernelProvider k;
    private boolean bf16;
    private Arena arena;
    private MemorySegment halves;
    private float[] values;
    private float[] scratch;

    @Setup
    public void setup() {
        k = impl.equals("vector") ? Kernels.vector() : Kernels.scalar();
        if (k == null) {
            throw new IllegalStateException("the Vector API kernels are not available in this JVM");
        }
        bf16 = DType.valueOf(dtype) == DType.BF16;
        arena = Arena.ofShared();
        halves = arena.allocate(2L * N);
        values = new float[N];
        scratch = new float[N];
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < N; i++) {
            values[i] = (float) (0.02 * r.nextGaussian());
        }
        if (bf16) {
            Kernels.scalar().encodeBf16(values, 0, N, halves, 0);
        } else {
            Kernels.scalar().encodeF16(values, 0, N, halves, 0);
        }
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float[] decode() {
        if (bf16) {
            k.decodeBf16(halves, 0, scratch, 0, N);
        } else {
            k.decodeF16(halves, 0, scratch, 0, N);
        }
        return scratch;
    }

    @Benchmark
    public MemorySegment encode() {
        if (bf16) {
            k.encodeBf16(values, 0, N, halves, 0);
        } else {
            k.encodeF16(values, 0, N, halves, 0);
        }
        return halves;
    }

    @Benchmark
    public float[] round() {
        System.arraycopy(values, 0, scratch, 0, N);
        if (bf16) {
            k.roundBf16(scratch, 0, N);
        } else {
            k.roundF16(scratch, 0, N);
        }
        return scratch;
    }
}
