package dev.amalgam.bench;

import dev.amalgam.io.DType;

import java.nio.file.Path;
import java.util.List;

/**
 * What {@link Bench} runs. Bench stage.
 *
 * @param cache   where the models are generated once and kept, and where outputs are written (and deleted)
 * @param cases   the merge cases, in table order (the big case is added by {@code big})
 * @param dtypes  the model dtypes, each a separate set of models
 * @param repeat  runs of each case; the fastest is reported
 * @param threads worker threads of each merge
 * @param small   use {@link BenchShape#SMALL} instead of TinyLlama (a smoke test)
 * @param big     also run the one-billion-element-tensor case
 * @param csv     the CSV file to write, or null for {@code bench-results.csv} in the cache
 * @param work    where merge outputs are written and deleted, or null for {@code work} in the cache;
 *                a tmpfs such as {@code /dev/shm} takes the disk out of the measurement
 * @param warm    time each run after an untimed first run of the same case in the same JVM
 */
public record BenchOptions(Path cache, List<BenchCase> cases, List<DType> dtypes, int repeat, int threads,
                           boolean small, boolean big, Path csv, Path work, boolean warm) {

    public BenchOptions {
        cases = List.copyOf(cases);
        dtypes = List.copyOf(dtypes);
    }

    /** The default cache, {@code ~/.cache/amalgam/bench}. */
    public static Path defaultCache() {
        return Path.of(System.getProperty("user.home"), ".cache", "amalgam", "bench");
    }

    /** Where outputs go. */
    Path workDir() {
        return work != null ? work : cache.resolve("work");
    }

    /** The shape of the regular cases. */
    BenchShape shape() {
        return small ? BenchShape.SMALL : BenchShape.TINYLLAMA;
    }

    /** The shape of the big case. */
    BenchShape bigShape() {
        return small ? BenchShape.BIG_SMALL : BenchShape.BIG;
    }
}
