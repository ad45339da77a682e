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
 * JMH benchmarks of the task-vector family's kernels — task vectors, weighting, L1 sums,
 * magnitude masks, keyed random words and keep bits, and the sign-consensus combination of three
 * models — scalar against Vector API, per working dtype, on one executor chunk of 65536
 * elements. Kernel stage's benchmarks; the score is in elements per nanosecond.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@OperationsPerInvocation(TaskKernelBenchmark.N)
public class TaskKernelBenchmark {

    static final int N = 65536;

    @Param({"BF16", "F16", "F32"})
    public String dtype;

    @Param({"scalar", "vector"})
    public String impl;

    private KernelProvider k;
    private DType d;
    private float[][] in;
    private float[][] wd;
    private float[] base;
    private float[] w;
    private float[] out;
    private int[] words;
    private long[] bits;
    private double[] acc;
    private int threshold;

    @Setup
    public void setup() {
        k = impl.equals("vector") ? Kernels.vector() : Kernels.scalar();
        if (k == null) {
            throw new IllegalStateException("the Vector API kernels are not available in this JVM");
        }
        d = DType.valueOf(dtype);
        SplittableRandom r = new SplittableRandom(11);
        in = new float[3][N];
        wd = new float[3][N];
        base = new float[N];
        for (int i = 0; i < N; i++) {
            base[i] = Codec.round(d, (float) (0.02 * r.nextGaussian()));
            for (int j = 0; j < 3; j++) {
                in[j][i] = Codec.round(d, base[i] + (float) (0.002 * r.nextGaussian()));
            }
        }
        w = new float[] {Codec.round(d, 0.5f), Codec.round(d, 0.3f), Codec.round(d, 0.2f)};
        out = new float[N];
        words = new int[N];
        bits = new long[N / 64];
        acc = new double[8];
        k.subRound(d, in[0], base, out, N);
        threshold = Float.floatToRawIntBits(Math.abs(out[N / 2]));
    }

    @Benchmark
    public float[] subRound() {
        k.subRound(d, in[0], base, out, N);
        return out;
    }

    @Benchmark
    public float[] scaleRound() {
        k.scaleRound(d, out, 0.999f, N);
        return out;
    }

    @Benchmark
    public double[] sumAbs() {
        k.sumAbs(in[1], N, 0, acc);
        return acc;
    }

    @Benchmark
    public long countNonFinite() {
        return k.countNonFinite(in[1], N);
    }

    @Benchmark
    public float[] maskTop() {
        k.subRound(d, in[0], base, out, N);
        k.maskTop(out, N, threshold, 100, true);
        return out;
    }

    @Benchmark
    public long[] keyedWordsAndKeepBits() {
        k.keyedWords(0x1234_5678_9ABCL, 4096, N, words);
        k.keepBits(words, N, 8_900_000, bits);
        return bits;
    }

    @Benchmark
    public float[] maskBits() {
        k.maskBits(out, N, bits);
        return out;
    }

    @Benchmark
    public float[] consensusCombine3() {
        for (int j = 0; j < 3; j++) {
            k.subRound(d, in[j], base, wd[j], N);
        }
        k.taskCombine(d, wd, w, base, N, true, true, 1f, true, 1.1f, out);
        return out;
    }
}
