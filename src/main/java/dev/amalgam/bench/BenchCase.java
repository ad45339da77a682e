package dev.amalgam.bench;

import dev.amalgam.io.DType;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * One merge the benchmark times: a method and the recipe that exercises it on the cached models.
 * Bench stage. The recipes follow the golden cases (weights, densities, seeds) scaled to the
 * benchmark's models; {@code slerp} is the Excalibur-7b recipe adapted to the model's layer count.
 */
public enum BenchCase {
    SLERP("slerp", "slerp", 1),
    LINEAR("linear", "linear", 3),
    TASK_ARITHMETIC("task_arithmetic", "task_arithmetic", 3),
    TIES("ties", "ties", 3),
    DARE_TIES("dare_ties", "dare_ties", 3),
    DELLA("della", "della", 3),
    MODEL_STOCK("model_stock", "model_stock", 3),
    PASSTHROUGH("passthrough", "passthrough", 2),
    /** Linear of two models whose one large tensor is a 1-billion-element embedding. */
    BIG_LINEAR("big-linear", "linear", 1);

    /** The seed recorded for DARE and DELLA. */
    static final long SEED = 42;

    private final String id;
    private final String method;
    private final int fineTunes;

    BenchCase(String id, String method, int fineTunes) {
        this.id = id;
        this.method = method;
        this.fineTunes = fineTunes;
    }

    /** The name used by {@code --cases} and in the table. */
    public String id() {
        return id;
    }

    /** The merge method it runs. */
    public String method() {
        return method;
    }

    /** How many fine-tunes (besides the base) the case needs. */
    int fineTunes() {
        return fineTunes;
    }

    /** The regular cases, in table order (the big case is separate). */
    public static List<BenchCase> regular() {
        return List.of(SLERP, LINEAR, TASK_ARITHMETIC, TIES, DARE_TIES, DELLA, MODEL_STOCK, PASSTHROUGH);
    }

    /** The case with this id, or null. */
    public static BenchCase byId(String id) {
        for (BenchCase c : values()) {
            if (c.id.equals(id)) {
                return c;
            }
        }
        return null;
    }

    /** The recipe of this case on {@code m}, whose models have {@code layers} layers. */
    String recipe(BenchModels.ModelSet m, int layers, DType dtype) {
        String base = quote(m.base());
        List<String> ft = m.fineTunes().stream().map(BenchCase::quote).toList();
        String dt = dtype.torchName();
        return switch (this) {
            case SLERP -> String.format(Locale.ROOT, """
                    slices:
                    - sources:
                      - model: %1$s
                        layer_range: [0, %3$d]
                      - model: %2$s
                        layer_range: [0, %3$d]
                    merge_method: slerp
                    base_model: %1$s
                    parameters:
                      t:
                      - filter: self_attn
                        value: [1, 0.7, 0.3, 0.5, 0]
                      - filter: mlp
                        value: [0, 0.3, 0.7, 0.5, 1]
                      - value: 0.5
                    dtype: %4$s
                    """, base, ft.get(0), layers, dt);
            case LINEAR -> String.format(Locale.ROOT, """
                    merge_method: linear
                    models:
                      - model: %s
                        parameters:
                          weight: 0.3
                      - model: %s
                        parameters:
                          weight: 0.7
                      - model: %s
                        parameters:
                          weight: 0.5
                    dtype: %s
                    """, ft.get(0), ft.get(1), ft.get(2), dt);
            case BIG_LINEAR -> String.format(Locale.ROOT, """
                    merge_method: linear
                    models:
                      - model: %s
                        parameters:
                          weight: 0.5
                      - model: %s
                        parameters:
                          weight: 0.5
                    dtype: %s
                    """, base, ft.get(0), dt);
            case TASK_ARITHMETIC -> taskVectors("task_arithmetic", base, ft, dt, """
                          weight: %s
                    """, "  lambda: 0.9\n");
            case TIES -> taskVectors("ties", base, ft, dt, """
                          density: 0.5
                          weight: %s
                    """, "  normalize: true\n");
            case DARE_TIES -> taskVectors("dare_ties", base, ft, dt, """
                          density: 0.53
                          weight: %s
                    """, "  int8_mask: true\n");
            case DELLA -> taskVectors("della", base, ft, dt, """
                          density: 0.6
                          weight: %s
                          epsilon: 0.1
                    """, "  lambda: 1.1\n");
            case MODEL_STOCK -> String.format(Locale.ROOT, """
                    merge_method: model_stock
                    base_model: %s
                    models:
                      - model: %s
                      - model: %s
                      - model: %s
                    dtype: %s
                    """, base, ft.get(0), ft.get(1), ft.get(2), dt);
            case PASSTHROUGH -> String.format(Locale.ROOT, """
                    slices:
                    - sources:
                      - model: %s
                        layer_range: [0, %d]
                    - sources:
                      - model: %s
                        layer_range: [%d, %d]
                    merge_method: passthrough
                    dtype: %s
                    """, ft.get(0), layers / 2, ft.get(1), layers / 2, layers, dt);
        };
    }

    private static String taskVectors(String method, String base, List<String> ft, String dt, String perModel,
                                      String global) {
        String[] weights = {"0.5", "0.3", "0.2"};
        StringBuilder sb = new StringBuilder();
        sb.append("merge_method: ").append(method).append('\n');
        sb.append("base_model: ").append(base).append('\n');
        sb.append("models:\n");
        for (int i = 0; i < ft.size(); i++) {
            sb.append("  - model: ").append(ft.get(i)).append('\n');
            sb.append("    parameters:\n");
            sb.append(String.format(Locale.ROOT, perModel, weights[i % weights.length]));
        }
        sb.append("parameters:\n").append(global);
        sb.append("dtype: ").append(dt).append('\n');
        return sb.toString();
    }

    /** A YAML double-quoted scalar of an absolute path. */
    private static String quote(Path p) {
        String s = p.toAbsolutePath().toString().replace("\\", "\\\\").replace("\"", "\\\"");
        return '"' + s + '"';
    }
}
