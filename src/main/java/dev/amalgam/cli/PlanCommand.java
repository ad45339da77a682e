package dev.amalgam.cli;

import dev.amalgam.exec.RunOptions;
import dev.amalgam.plan.Operand;
import dev.amalgam.plan.OutputTensor;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.PlanOptions;
import dev.amalgam.plan.Planner;
import dev.amalgam.plan.Shard;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.recipe.RecipeWarning;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * {@code amalgam plan RECIPE}: everything a merge would do, decided and checked without reading
 * any tensor data — every output tensor and what it is made of, the bytes to read and write, the
 * disk space and memory needed. {@code amalgam merge --dry-run} prints the same. CLI stage.
 */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = "Check a merge against its models and show what it would write, without merging.")
public final class PlanCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "RECIPE", description = "The recipe (mergekit YAML).")
    Path recipe;

    @Option(names = "--out-shard-size", paramLabel = "SIZE", defaultValue = "5B",
            description = "Largest output shard in bytes (K, M, B suffixes). Default: ${DEFAULT-VALUE}.")
    String outShardSize;

    @Option(names = "--allow-crimes", description = "Allow merging models of different architectures.")
    boolean allowCrimes;

    @Option(names = {"-j", "--num-threads"}, paramLabel = "N", description = "Worker threads the merge would use.")
    Integer threads;

    @Option(names = "--tensors", description = "List every output tensor and its inputs.")
    boolean tensors;

    @Option(names = "--stacktrace", description = "Show stack traces of errors.")
    boolean stacktrace;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        Recipe r = Recipe.parse(recipe);
        for (RecipeWarning w : r.warnings()) {
            Console.warn(err, w.message(), w.where(), w.hint());
        }
        PlanOptions po = PlanOptions.defaults().withShardSize(MergeCommand.parseShardSize(outShardSize))
                .withAllowCrimes(allowCrimes);
        try (Plan plan = Planner.plan(r, po)) {
            plan.warnings().forEach(w -> Console.warn(err, w, null, null));
            int t = threads != null ? threads : Runtime.getRuntime().availableProcessors();
            describe(plan, Path.of("").toAbsolutePath(), t, tensors, spec.commandLine().getOut());
        }
        return 0;
    }

    /** Prints what the plan will do; {@code out} is where it would write (for the free-space check). */
    static void describe(Plan plan, Path out, int threads, boolean everyTensor, PrintWriter w) throws IOException {
        w.printf(Locale.ROOT, "plan: %s of %d model(s) -> %d tensors in %d file(s), %d layers%n",
                plan.method().name(), plan.models().size(), plan.tensors().size(), plan.shards().size(),
                plan.layers());
        for (Map.Entry<?, java.util.List<String>> e : plan.unused().entrySet()) {
            if (!e.getValue().isEmpty()) {
                w.printf(Locale.ROOT, "  %s: %d input tensor(s) not in the output%n", e.getKey(), e.getValue().size());
            }
        }
        if (everyTensor) {
            for (OutputTensor t : plan.tensors()) {
                String inputs = t.operands().stream().map(PlanCommand::operand).collect(Collectors.joining(", "));
                String params = t.context().globals().entrySet().stream().filter(e -> e.getValue() != null)
                        .map(e -> e.getKey() + "=" + num(e.getValue())).collect(Collectors.joining(", "));
                w.printf(Locale.ROOT, "  %s %s %s = %s%s(%s)%n", t.name(), shape(t.shape()),
                        t.dtype().safetensorsName(), t.copy() ? "copy" : plan.method().name(),
                        params.isEmpty() ? "" : "[" + params + "]", inputs);
            }
            for (Shard s : plan.shards()) {
                w.printf(Locale.ROOT, "  file %s: %d tensors, %s%n", s.fileName(), s.tensors().size(),
                        Console.bytes(s.bytes()));
            }
        }
        long write = plan.bytesToWrite();
        Path existing = out;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        long free = existing == null ? -1 : Files.getFileStore(existing).getUsableSpace();
        int maxOperands = plan.tensors().stream().mapToInt(t -> t.operands().size()).max().orElse(1);
        long perWorker = (long) (maxOperands + 2) * RunOptions.DEFAULT_CHUNK * Float.BYTES;
        w.printf(Locale.ROOT, "read: %s of tensor data (methods with measuring passes read some tensors again)%n",
                Console.bytes(plan.bytesToRead()));
        w.printf(Locale.ROOT, "write: %s; free disk needed: %s%s%n", Console.bytes(write), Console.bytes(write),
                free < 0 ? "" : " (" + Console.bytes(free) + " available" + (free < write ? ", NOT ENOUGH" : "") + ")");
        w.printf(Locale.ROOT, "memory: about %s of working buffers (%d threads), independent of model size%n",
                Console.bytes(perWorker * threads), threads);
        w.flush();
    }

    private static String operand(Operand o) {
        String name = o.inputName().equals(o.tensor().name()) ? o.inputName()
                : o.inputName() + "->" + o.tensor().name();
        return o.model() + ":" + name;
    }

    private static String shape(long[] s) {
        return java.util.Arrays.toString(s);
    }

    private static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e9 ? String.format(Locale.ROOT, "%.0f", v)
                : String.format(Locale.ROOT, "%.6g", v);
    }
}
