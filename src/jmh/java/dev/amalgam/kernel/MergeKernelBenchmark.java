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
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * JMH benchmarks of the elementwise merge passes — SLERP/LERP's {@code R(c0·a + c1·b)} and linear's
 * weighted sum of three models — scalar against Vector API, per working dtype, on one executor
 * chunk of 65536 elements; and SLERP's reductions (three per element). Kernel stage's benchmarks; the score is in elements per nanosecond.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@OperationsPerInvocation(MergeKernelBenchmark.N)
public class MergeKernelBenchmark {

    static final int N = 65536;

    @Param({"BF16", "F16", "F32"})
    public String dtype;

    @Param({"scalar", "vector"})
    public String impl;

    private KernelProvider k;
    private DType d;
    private float[][] in;
    private float[] w;
    private float[] out;
    private final double[] acc = new double[8];
    private final double[] acc2 = new double[8];
    private final double[] acc3 = new double[8];

    @Setup
    public void setup() {
        k = impl.equals("vector") ? Kernels.vector() : Kernels.scalar();
        if (k == null) {
            throw new IllegalStateException("the Vector API kernels are not available in this JVM");
        }
        d = DType.valueOf(dtype);
        SplittableRandom r = new SplittableRandom(11);
        in = new float[3][N];
        for (float[] x : in) {
            for (int i = 0; i < N; i++) {
                x[i] = Codec.round(d, (float) (0.02 * r.nextGaussian()));
            }
        }
        w = new float[] {Codec.round(d, 0.3f), Codec.round(d, 0.7f), Codec.round(d, 0.5f)};
        out = new float[N];
    }

    @Benchmark
    public float[] lerp() {
        k.lerp(d, 0.3f, in[0], 0.7f, in[1], out, N);
        return out;
    }

    @Benchmark
    public float[] weightedSum3() {
        k.weightedSum(d, w, in, N, true, Codec.round(d, 1.5f), out);
        return out;
    }

    /** SLERP's measuring pass: ‖a‖², ‖b‖² and a·b in the interleaved double sums (one output per element). */
    @Benchmark
    public double[] slerpReductions() {
        k.slerpSums(in[0], in[1], N, 0, acc, acc2, acc3);
        return acc;
    }
}
