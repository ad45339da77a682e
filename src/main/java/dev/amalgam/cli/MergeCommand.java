package dev.amalgam.cli;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.exec.Executor;
import dev.amalgam.exec.ProgressListener;
import dev.amalgam.exec.RunOptions;
import dev.amalgam.exec.RunSummary;
import dev.amalgam.io.DType;
import dev.amalgam.output.OutputDirectory;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.PlanOptions;
import dev.amalgam.plan.Planner;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.recipe.RecipeWarning;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code amalgam merge RECIPE OUT}: mergekit-yaml's command, with its option names and meanings.
 * CLI stage.
 */
@Command(name = "merge", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Merge the models a mergekit recipe names into a new model directory.")
public final class MergeCommand implements Callable<Integer> {

    private static final Pattern SIZE = Pattern.compile("(\\d+)([kKmMbB]?)");

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "RECIPE", description = "The recipe (mergekit YAML).")
    Path recipe;

    @Parameters(index = "1", paramLabel = "OUT", description = "The output model directory.")
    Path out;

    @Option(names = "--out-shard-size", paramLabel = "SIZE", defaultValue = "5B",
            description = "Largest output shard in bytes; an integer with an optional K, M or B suffix "
                    + "(x1e3, x1e6, x1e9). Default: ${DEFAULT-VALUE}.")
    String outShardSize;

    @Option(names = "--copy-tokenizer", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Copy the tokenizer and generation config of the base (or first) model. Default: on.")
    boolean copyTokenizer;

    @Option(names = "--allow-crimes", description = "Allow merging models of different architectures.")
    boolean allowCrimes;

    @Option(names = "--write-model-card", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Write README.md and mergekit_config.yml. Default: on.")
    boolean writeModelCard;

    @Option(names = "--random-seed", paramLabel = "SEED",
            description = "Seed for methods that draw random numbers (recorded for repeatable runs).")
    Long randomSeed;

    @Option(names = "--rng", paramLabel = "KIND", defaultValue = "keyed",
            description = "Random masks for DARE/DELLA: 'keyed' (default; the same for any -j and chunking) or "
                    + "'mergekit' (mergekit's seeded CPU masks bit for bit; needs --random-seed).")
    String rng;

    @Option(names = {"-j", "--num-threads"}, paramLabel = "N",
            description = "Worker threads. Default: all cores.")
    Integer threads;

    @Option(names = "-v", description = "More output (repeat for more).")
    boolean[] verbose = new boolean[0];

    @Option(names = "--quiet", description = "No progress bar and no summary.")
    boolean quiet;

    @Option(names = "--overwrite", description = "Replace OUT if it exists and is not empty.")
    boolean overwrite;

    @Option(names = "--stacktrace", description = "Show stack traces of errors.")
    boolean stacktrace;

    @Option(names = "--resume", description = "Finish an interrupted merge into OUT: keep its finished tensors "
            + "(verified by checksum) and compute the rest. The result is byte-identical to an uninterrupted run.")
    boolean resume;

    @Option(names = "--strict", description = "Fail instead of warning when the merge creates NaN or infinite values.")
    boolean strict;

    @Option(names = "--dry-run", description = "Check everything and show what would be written; write nothing.")
    boolean dryRun;

    @Option(names = "--lazy-unpickle", description = "Accepted for mergekit compatibility; Amalgam always "
            + "reads tensors lazily from memory-mapped files.")
    boolean lazyUnpickle;

    @Option(names = "--low-cpu-memory", description = "Accepted for mergekit compatibility; Amalgam's memory "
            + "does not grow with the model anyway.")
    boolean lowCpuMemory;

    @Option(names = "--cuda", description = "Accepted for mergekit compatibility; Amalgam computes on the CPU "
            + "with all cores.")
    boolean cuda;

    @Option(names = "--trust-remote-code", description = "Accepted for mergekit compatibility; Amalgam never "
            + "runs code from a model.")
    boolean trustRemoteCode;

    @Option(names = "--lora-merge-cache", paramLabel = "DIR", description = "Accepted for mergekit compatibility; "
            + "Amalgam applies model+lora adapters while reading and needs no cache.")
    Path loraMergeCache;

    @Option(names = "--lora-merge-dtype", paramLabel = "DTYPE", description = "The dtype a model+lora model is read "
            + "and adapted in (mergekit's meaning). Default: each tensor's stored dtype.")
    String loraMergeDtype;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter outw = spec.commandLine().getOut();
        notes(err);
        long shard = parseShardSize(outShardSize);
        boolean mergekitRng = switch (rng) {
            case "keyed" -> false;
            case "mergekit" -> true;
            default -> throw AmalgamException.input("unknown --rng '" + rng + "'", Where.NONE,
                    "use --rng keyed (default) or --rng mergekit");
        };
        if (mergekitRng && randomSeed == null) {
            throw AmalgamException.input("--rng mergekit needs --random-seed", Where.NONE,
                    "give the seed the mergekit run used, e.g. --random-seed 42");
        }
        long seed = randomSeed != null ? randomSeed : new SecureRandom().nextLong() >>> 33;
        Recipe r = Recipe.parse(recipe);
        PlanOptions po = PlanOptions.defaults().withShardSize(shard).withAllowCrimes(allowCrimes).withSeed(seed)
                .withLoraMergeDtype(loraDtype());
        RunOptions ro = RunOptions.defaults().withOverwrite(overwrite).withCopyTokenizer(copyTokenizer)
                .withModelCard(writeModelCard).withMergekitRng(mergekitRng).withResume(resume).withStrict(strict);
        if (threads != null) {
            ro = ro.withThreads(threads);
        }
        if (dryRun) {
            for (RecipeWarning w : r.warnings()) {
                Console.warn(err, w.message(), w.where(), w.hint());
            }
            OutputDirectory.checkTarget(out.toAbsolutePath(), overwrite);
            try (Plan plan = Planner.plan(r, po)) {
                plan.warnings().forEach(w -> Console.warn(err, w, null, null));
                PlanCommand.describe(plan, out.toAbsolutePath(), ro.threads(), verbose.length > 0, outw);
            } catch (java.io.IOException e) {
                throw AmalgamException.io("cannot check free space: " + e.getMessage(), Where.file(out), null, e);
            }
            return 0;
        }
        RunSummary s = run(r, out, po, ro, err, quiet, verbose.length);
        if (!quiet) {
            outw.println(Console.summary(s));
            if (verbose.length > 0) {
                s.unusedInputs().forEach(u -> outw.println("  not in the output: " + u));
            }
            outw.flush();
        }
        return 0;
    }

    private void notes(PrintWriter err) {
        List<String> notes = new ArrayList<>();
        if (lazyUnpickle) {
            notes.add("--lazy-unpickle: Amalgam always reads tensors lazily from memory-mapped files");
        }
        if (lowCpuMemory) {
            notes.add("--low-cpu-memory: Amalgam streams tensors in chunks; its memory does not grow with the model");
        }
        if (cuda) {
            notes.add("--cuda: Amalgam computes on the CPU with all cores (see -j)");
        }
        if (trustRemoteCode) {
            notes.add("--trust-remote-code: Amalgam reads config.json and tensors only and never runs model code");
        }
        if (loraMergeCache != null) {
            notes.add("--lora-merge-cache: Amalgam applies LoRA adapters while reading the base model; nothing is "
                    + "written to " + loraMergeCache);
        }
        for (String n : notes) {
            err.println("note: " + n);
        }
        err.flush();
    }

    /** Plans and runs a merge, printing warnings and (on a terminal) a progress bar. */
    static RunSummary run(Recipe r, Path out, PlanOptions po, RunOptions ro, PrintWriter err, boolean quiet,
                          int verbosity) {
        for (RecipeWarning w : r.warnings()) {
            Console.warn(err, w.message(), w.where(), w.hint());
        }
        try (Plan plan = Planner.plan(r, po)) {
            for (String w : plan.warnings()) {
                Console.warn(err, w, null, null);
            }
            if (verbosity > 0) {
                err.printf(Locale.ROOT, "plan: %d tensors in %d shard(s), %s to read, %s to write%n",
                        plan.tensors().size(), plan.shards().size(), Console.bytes(plan.bytesToRead()),
                        Console.bytes(plan.bytesToWrite()));
                plan.unused().forEach((m, l) -> {
                    if (!l.isEmpty()) {
                        err.printf(Locale.ROOT, "  %s: %d input tensor(s) not in the output%n", m, l.size());
                    }
                });
                err.flush();
            }
            ProgressListener listener = !quiet && ProgressBarListener.terminal()
                    ? new ProgressBarListener() : ProgressListener.NONE;
            try {
                RunSummary s = Executor.run(plan, out, ro.withListener(listener));
                s.notes().forEach(n -> err.println("note: " + n));
                s.numeric().forEach(n -> Console.warn(err, n + " (the inputs had none there)", null,
                        "--strict makes this an error"));
                return s;
            } finally {
                if (listener instanceof ProgressBarListener pb) {
                    pb.close();
                }
            }
        }
    }

    private DType loraDtype() {
        if (loraMergeDtype == null) {
            return null;
        }
        DType d = DType.fromTorchName(loraMergeDtype);
        if (d == null || !d.isFloatingPoint()) {
            throw AmalgamException.input("invalid --lora-merge-dtype '" + loraMergeDtype + "'", Where.NONE,
                    "use bfloat16, float16 or float32");
        }
        return d;
    }

    /** Parses mergekit's shard size syntax: an integer with an optional K, M or B suffix. */
    static long parseShardSize(String s) {
        Matcher m = SIZE.matcher(s.trim());
        if (!m.matches()) {
            throw AmalgamException.input("invalid --out-shard-size '" + s + "'", Where.NONE,
                    "use an integer with an optional K, M or B suffix, e.g. 5B or 500M");
        }
        long v = Long.parseLong(m.group(1));
        long mult = switch (m.group(2).toUpperCase(Locale.ROOT)) {
            case "K" -> 1_000L;
            case "M" -> 1_000_000L;
            case "B" -> 1_000_000_000L;
            default -> 1L;
        };
        return Math.multiplyExact(v, mult);
    }
}
