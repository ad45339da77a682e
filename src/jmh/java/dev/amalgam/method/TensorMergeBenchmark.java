package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;
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

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * JMH benchmarks of whole-tensor merges without I/O: one 2048×2048 tensor of a base and three
 * fine-tunes (base plus N(0, 0.002²), the benchmark models' noise), streamed through a method's
 * measuring and applying passes in executor-sized chunks, as the executor drives them. Method
 * stage's benchmarks; the score is in output elements per nanosecond on one thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@OperationsPerInvocation(TensorMergeBenchmark.N)
public class TensorMergeBenchmark {

    static final int ROWS = 2048;
    static final int COLS = 2048;
    static final int N = ROWS * COLS;

    @Param({"task_arithmetic", "ties", "dare_ties", "della", "model_stock"})
    public String method;

    @Param({"BF16", "F16"})
    public String dtype;

    /** Elements per chunk (the executor's default is 65536). */
    @Param({"65536"})
    public int chunk;

    private TensorMerge prepared;
    private MergeMethod m;
    private MergeContext ctx;
    private float[][] models;
    private float[][] in;
    private float[] out;

    @Setup
    public void setup() {
        DType d = DType.valueOf(dtype);
        SplittableRandom r = new SplittableRandom(7);
        models = new float[4][N];
        for (int i = 0; i < N; i++) {
            models[0][i] = Codec.round(d, (float) (0.02 * r.nextGaussian()));
            for (int k = 1; k < 4; k++) {
                models[k][i] = Codec.round(d, models[0][i] + (float) (0.002 * r.nextGaussian()));
            }
        }
        m = Methods.byName(method);
        Map<String, Double> g = new HashMap<>();
        m.globalParameters().forEach(p -> g.put(p.name(), p.defaultValue()));
        List<Map<String, Double>> per = new ArrayList<>();
        per.add(Map.of());
        double[] weights = {0.5, 0.3, 0.2};
        for (double w : weights) {
            Map<String, Double> p = new HashMap<>();
            m.perModelParameters().forEach(s -> {
                if (s.defaultValue() != null) {
                    p.put(s.name(), s.defaultValue());
                }
            });
            p.put("weight", w);
            p.put("density", method.equals("della") ? 0.6 : 0.5);
            p.put("epsilon", 0.1);
            per.add(p);
        }
        ctx = new MergeContext("model.layers.0.self_attn.q_proj.weight", new long[]{ROWS, COLS}, d, 0, g, per, 42);
        in = new float[4][chunk];
        out = new float[chunk];
    }

    @Benchmark
    public float[] merge() {
        TensorMerge t = m.prepare(ctx);
        int size = t.rowAligned() ? Math.max(COLS, chunk / COLS * COLS) : chunk;
        for (int pass = 0; pass <= t.measuringPasses(); pass++) {
            boolean apply = pass == t.measuringPasses();
            for (int off = 0; off < N; off += size) {
                int len = Math.min(size, N - off);
                for (int k = 0; k < 4; k++) {
                    System.arraycopy(models[k], off, in[k], 0, len);
                }
                if (apply) {
                    t.apply(in, len, off, out);
                } else {
                    t.measure(pass, in, len, off);
                }
            }
            if (!apply) {
                t.endPass(pass);
            }
        }
        return out;
    }
}
