package dev.amalgam.cli;

import dev.amalgam.bench.Bench;
import dev.amalgam.bench.BenchCase;
import dev.amalgam.bench.BenchOptions;
import dev.amalgam.bench.BenchRow;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * {@code amalgam bench}: times whole merges of TinyLlama-1.1B-shaped models against the streaming-copy
 * floor and prints a table (also written as CSV). CLI stage; a thin shell over {@link Bench}.
 * Progress goes to standard error, the table to standard output.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Times whole merges of TinyLlama-1.1B-shaped models (generated once into a cache) against "
                + "the floor: a streaming copy of the same bytes.",
                "Each case runs in a fresh JVM; the table shows wall and CPU time, peak RSS and peak anonymous "
                        + "memory (RssAnon), throughput and the ratio to the floor."})
public final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--cache", paramLabel = "DIR",
            description = "Where models are generated once and kept (also the scratch space for outputs). "
                    + "Default: ~/.cache/amalgam/bench.")
    Path cache;

    @Option(names = "--cases", paramLabel = "CASES", split = ",",
            description = "Comma-separated cases. Default: all of slerp, linear, task_arithmetic, ties, dare_ties, "
                    + "della, model_stock, passthrough.")
    List<String> cases;

    @Option(names = "--dtype", paramLabel = "DTYPE", defaultValue = "both",
            description = "float16, bfloat16 or both. Default: ${DEFAULT-VALUE}.")
    String dtype;

    @Option(names = "--repeat", paramLabel = "N", defaultValue = "1",
            description = "Runs per case; the fastest is reported. Default: ${DEFAULT-VALUE}.")
    int repeat;

    @Option(names = {"-j", "--threads"}, paramLabel = "N", description = "Worker threads per merge. Default: all cores.")
    Integer threads;

    @Option(names = "--small", description = "Tiny models (hidden 256, 2 layers, vocab 1000): a smoke test in seconds.")
    boolean small;

    @Option(names = "--big", description = "Also merge (linear) two models whose embedding is one 1-billion-element "
            + "tensor (256000 x 4096): about 2.2 GB per model in float16; the free space is checked first.")
    boolean big;

    @Option(names = "--csv", paramLabel = "FILE", description = "CSV output. Default: bench-results.csv in the cache.")
    Path csv;

    @Option(names = "--warm", description = "Time each run after a first, untimed run of the same case in the same "
            + "JVM, so that the JIT has compiled the kernels: what a merge of a larger model approaches, where "
            + "the JVM's warm-up (about 1.5-2.5 s here) is a small part of the time.")
    boolean warm;

    @Option(names = "--work", paramLabel = "DIR", description = "Where merge outputs are written and deleted. "
            + "Default: work/ in the cache. A tmpfs such as /dev/shm takes the disk out of the measurement.")
    Path work;

    @Override
    public Integer call() {
        if (repeat < 1) {
            throw bad("--repeat must be at least 1, got " + repeat, "--repeat", "use --repeat 1 or more");
        }
        if (threads != null && threads < 1) {
            throw bad("--threads must be at least 1, got " + threads, "--threads", "use -j 1 or more");
        }
        BenchOptions o = new BenchOptions(cache != null ? cache : BenchOptions.defaultCache(), selectedCases(),
                dtypes(), repeat, threads != null ? threads : Runtime.getRuntime().availableProcessors(), small, big,
                csv, work, warm);
        PrintWriter err = spec.commandLine().getErr();
        List<BenchRow> rows = Bench.run(o, err);
        PrintWriter out = spec.commandLine().getOut();
        out.println(Bench.machine() + (warm ? "; timed after a first run in the same JVM (--warm)" : ""));
        out.print(Bench.table(rows));
        out.flush();
        return 0;
    }

    private List<BenchCase> selectedCases() {
        if (cases == null || cases.isEmpty()) {
            return BenchCase.regular();
        }
        List<BenchCase> l = new ArrayList<>();
        for (String s : cases) {
            String id = s.strip().toLowerCase(Locale.ROOT);
            if (id.isEmpty()) {
                continue;
            }
            BenchCase c = BenchCase.byId(id);
            if (c == null || !BenchCase.regular().contains(c)) {
                String valid = BenchCase.regular().stream().map(BenchCase::id).collect(Collectors.joining(", "));
                throw bad("unknown benchmark case '" + s + "'", "--cases", "choose from " + valid
                        + (c == BenchCase.BIG_LINEAR ? "; the big case is --big" : ""));
            }
            if (!l.contains(c)) {
                l.add(c);
            }
        }
        return l;
    }

    private List<DType> dtypes() {
        return switch (dtype.strip().toLowerCase(Locale.ROOT)) {
            case "float16", "fp16", "f16" -> List.of(DType.F16);
            case "bfloat16", "bf16" -> List.of(DType.BF16);
            case "both" -> List.of(DType.F16, DType.BF16);
            default -> throw bad("unsupported --dtype '" + dtype + "'", "--dtype", "use float16, bfloat16 or both");
        };
    }

    private static AmalgamException bad(String message, String option, String hint) {
        return AmalgamException.input(message, Where.at(null, 0, 0, option), hint);
    }
}
