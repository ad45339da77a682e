package dev.amalgam.bench;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.exec.Executor;
import dev.amalgam.exec.RunOptions;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.PlanOptions;
import dev.amalgam.plan.Planner;
import dev.amalgam.recipe.Recipe;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * The child JVM of one benchmark case: plans a recipe and runs it — as a merge through
 * {@link Executor}, or as the {@link StreamingCopy} floor — then prints one {@code RESULT} line with
 * its own wall time, CPU time, bytes and memory for the parent to read. Bench stage. Wall and CPU
 * time cover planning and running, not JVM start-up.
 *
 * <p>Arguments: {@code merge|floor RECIPE_FILE OUT_DIR THREADS SEED [warm|cold]}; with {@code warm}
 * the case runs once untimed (into a sibling of OUT_DIR, deleted, then synced) before the timed run.
 */
public final class BenchChild {

    /** The prefix of the line the parent parses. */
    static final String RESULT = "RESULT";

    private BenchChild() {
    }

    public static void main(String[] args) {
        try {
            System.out.println(run(args));
            System.out.flush();
        } catch (AmalgamException e) {
            System.err.println(e.render());
            System.exit(2);
        } catch (RuntimeException | IOException e) {
            System.err.println("error: " + e);
            e.printStackTrace(System.err);
            System.exit(4);
        }
    }

    static String run(String[] args) throws IOException {
        if (args.length < 5 || args.length > 6 || !(args[0].equals("merge") || args[0].equals("floor"))) {
            throw new IllegalArgumentException("usage: merge|floor RECIPE_FILE OUT_DIR THREADS SEED [warm|cold]");
        }
        if (args.length == 6 && args[5].equals("warm")) {
            Path first = Path.of(args[2] + "-warmup");
            once(args, first);
            BenchFiles.deleteTree(first);
            BenchFiles.settle();
        }
        return once(args, Path.of(args[2]));
    }

    /** Plans and runs the case into {@code out}; the result line of that run. */
    private static String once(String[] args, Path out) throws IOException {
        boolean merge = args[0].equals("merge");
        Path recipeFile = Path.of(args[1]);
        int threads = Integer.parseInt(args[3]);
        long seed = Long.parseLong(args[4]);
        String text = Files.readString(recipeFile, StandardCharsets.UTF_8);
        long cpu0 = cpuNanos();
        long t0 = System.nanoTime();
        Recipe recipe = Recipe.parse(text, recipeFile.getFileName().toString());
        long read;
        long written;
        try (Plan plan = Planner.plan(recipe, PlanOptions.defaults().withSeed(seed))) {
            if (merge) {
                Executor.run(plan, out, RunOptions.defaults().withThreads(threads));
                read = plan.bytesToRead();
                written = plan.bytesToWrite();
            } else {
                long[] rw = StreamingCopy.run(plan, out, threads);
                read = rw[0];
                written = rw[1];
            }
        }
        long wall = System.nanoTime() - t0;
        long cpu = cpuNanos() - cpu0;
        ProcStatus st = ProcStatus.self();
        return String.format(Locale.ROOT, "%s wall_ns=%d cpu_ns=%d read=%d written=%d hwm=%d anon=%d", RESULT, wall,
                cpu, read, written, st.vmHwm(), st.rssAnon());
    }

    private static long cpuNanos() {
        return ProcessHandle.current().info().totalCpuDuration().map(Duration::toNanos).orElse(-1L);
    }
}
