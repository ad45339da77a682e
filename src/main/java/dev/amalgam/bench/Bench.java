package dev.amalgam.bench;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.DType;
import dev.amalgam.kernel.Kernels;
import dev.amalgam.method.Methods;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.PlanOptions;
import dev.amalgam.plan.Planner;
import dev.amalgam.recipe.Recipe;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The benchmark: for each dtype, makes sure the models exist, then times each case and, once per
 * distinct amount of input and output bytes, the streaming-copy floor; every run is a fresh child
 * JVM on inputs that were read into the page cache just before. Bench stage. Outputs go to a
 * temporary directory (in the cache unless {@link BenchOptions#work()} says otherwise) and are
 * deleted after each run.
 */
public final class Bench {

    private final BenchOptions options;
    private final PrintWriter log;
    private final Path work;
    private int runCounter;

    private Bench(BenchOptions options, PrintWriter log) {
        this.options = options;
        this.log = log;
        this.work = options.workDir();
    }

    /**
     * Runs the benchmark, reporting progress on {@code log}; writes the CSV and returns the rows in
     * table order.
     */
    public static List<BenchRow> run(BenchOptions options, PrintWriter log) {
        return new Bench(options, log).run();
    }

    /** The table: a header and one line per row. */
    public static String table(List<BenchRow> rows) {
        StringBuilder sb = new StringBuilder(BenchRow.tableHeader()).append('\n');
        for (BenchRow r : rows) {
            sb.append(r.tableLine()).append('\n');
        }
        return sb.toString();
    }

    /** The CSV: a header and one line per row. */
    public static String csv(List<BenchRow> rows) {
        StringBuilder sb = new StringBuilder(BenchRow.CSV_HEADER).append('\n');
        for (BenchRow r : rows) {
            sb.append(r.csvLine()).append('\n');
        }
        return sb.toString();
    }

    /** One line about the machine and the JVM, for the top of a report. */
    public static String machine() {
        String cpu = "unknown CPU";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).strip();
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            cpu = System.getProperty("os.arch");
        }
        long mem = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    mem = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            mem = -1;
        }
        return String.format(Locale.ROOT, "%s, %d cores, %s RAM; Java %s; kernels: %s", cpu,
                Runtime.getRuntime().availableProcessors(), mem < 0 ? "?" : String.format(Locale.ROOT, "%.1f GiB",
                        mem / 1073741824.0), Runtime.version(), Kernels.describe());
    }

    // ------------------------------------------------------------------------------------------ run

    /** A case made concrete for one dtype. */
    private record Job(BenchCase c, DType dtype, BenchModels.ModelSet models, Path recipe, long read, long written) {
    }

    private List<BenchRow> run() {
        List<BenchCase> cases = new ArrayList<>();
        for (BenchCase c : options.cases()) {
            if (Methods.byName(c.method()) == null) {
                log.printf(Locale.ROOT, "skipping %s: the method '%s' is not registered in this build%n", c.id(),
                        c.method());
            } else {
                cases.add(c);
            }
        }
        boolean big = options.big() && Methods.byName(BenchCase.BIG_LINEAR.method()) != null;
        checkSpace(cases, big);
        log.println("machine: " + machine());
        log.flush();
        List<BenchRow> rows = new ArrayList<>();
        try {
            Files.createDirectories(work);
            for (DType dtype : options.dtypes()) {
                List<Job> jobs = new ArrayList<>();
                int fts = cases.stream().mapToInt(BenchCase::fineTunes).max().orElse(0);
                if (!cases.isEmpty()) {
                    BenchModels.ModelSet m = BenchModels.ensure(options.cache(), options.shape(), dtype, fts, log);
                    for (BenchCase c : cases) {
                        jobs.add(job(c, dtype, m, options.shape()));
                    }
                }
                if (big) {
                    BenchModels.ModelSet m = BenchModels.ensure(options.cache(), options.bigShape(), dtype,
                            BenchCase.BIG_LINEAR.fineTunes(), log);
                    jobs.add(job(BenchCase.BIG_LINEAR, dtype, m, options.bigShape()));
                }
                rows.addAll(runJobs(jobs, dtype));
            }
            Path csv = options.csv() != null ? options.csv() : options.cache().resolve("bench-results.csv");
            Path parent = csv.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(csv, csv(rows), StandardCharsets.UTF_8);
            log.println("wrote " + csv);
            log.flush();
        } catch (IOException e) {
            throw AmalgamException.io("benchmark I/O failed: " + e.getMessage(), Where.file(options.cache()),
                    "check the cache directory (--cache) and free disk space", e);
        }
        return rows;
    }

    private Job job(BenchCase c, DType dtype, BenchModels.ModelSet all, BenchShape shape) throws IOException {
        BenchModels.ModelSet m = new BenchModels.ModelSet(all.base(), all.fineTunes().subList(0, c.fineTunes()));
        String text = c.recipe(m, shape.layers(), dtype);
        Path recipe = work.resolve(c.id() + "-" + dtype.torchName() + ".yml");
        Files.writeString(recipe, text, StandardCharsets.UTF_8);
        try (Plan plan = Planner.plan(Recipe.parse(text, recipe.getFileName().toString()),
                PlanOptions.defaults().withSeed(BenchCase.SEED))) {
            return new Job(c, dtype, m, recipe, plan.bytesToRead(), plan.bytesToWrite());
        }
    }

    private List<BenchRow> runJobs(List<Job> jobs, DType dtype) {
        List<BenchRow> rows = new ArrayList<>();
        Map<String, Measurement> floors = new HashMap<>();
        Map<String, String> labels = new LinkedHashMap<>();
        for (Job j : jobs) {
            String key = j.read() + "/" + j.written();
            BenchFiles.warm(usedModels(j));
            if (!floors.containsKey(key)) {
                String label = floorLabel(j, labels);
                labels.put(key, label);
                Measurement f = best("floor", j, label);
                floors.put(key, f);
                rows.add(new BenchRow(label, dtype.torchName(), f, options.repeat(), options.threads(), label, 1.0));
            }
            Measurement floor = floors.get(key);
            Measurement m = best("merge", j, j.c().id());
            rows.add(new BenchRow(j.c().id(), dtype.torchName(), m, options.repeat(), options.threads(), labels.get(key),
                    m.wallNanos() / (double) floor.wallNanos()));
        }
        return rows;
    }

    private static List<Path> usedModels(Job j) {
        return switch (j.c()) {
            case SLERP, BIG_LINEAR -> List.of(j.models().base(), j.models().fineTunes().getFirst());
            case LINEAR, PASSTHROUGH -> j.models().fineTunes();
            default -> j.models().all();
        };
    }

    private static String floorLabel(Job j, Map<String, String> used) {
        long x = Math.round(j.read() / (double) Math.max(1, j.written()));
        String label = (j.c() == BenchCase.BIG_LINEAR ? "big-floor-x" : "floor-x") + x;
        return used.containsValue(label) ? label + "-" + j.c().id() : label;
    }

    /** Runs one case {@code repeat} times in fresh JVMs and returns the fastest run. */
    private Measurement best(String mode, Job j, String name) {
        Measurement best = null;
        for (int r = 0; r < options.repeat(); r++) {
            Path out = work.resolve(String.format(Locale.ROOT, "out-%d-%d", ProcessHandle.current().pid(), ++runCounter));
            try {
                BenchFiles.deleteTree(out);
                BenchFiles.settle();
                Measurement m = ChildRunner.run(List.of(mode, j.recipe().toString(), out.toString(),
                        Integer.toString(options.threads()), Long.toString(BenchCase.SEED),
                        options.warm() ? "warm" : "cold"));
                log.printf(Locale.ROOT, "%-16s %-9s run %d/%d: %.2f s wall, %.2f s CPU, RssAnon %d MiB, load %.1f%n",
                        name, j.dtype().torchName(), r + 1, options.repeat(), m.wallNanos() / 1e9,
                        m.cpuNanos() / 1e9, Math.round(m.peakRssAnon() / 1048576.0), m.loadAverage());
                log.flush();
                if (best == null || m.wallNanos() < best.wallNanos()) {
                    best = m;
                }
            } catch (IOException e) {
                throw AmalgamException.io("cannot clear '" + out + "': " + e.getMessage(), Where.file(out),
                        "remove it by hand", e);
            } finally {
                try {
                    BenchFiles.deleteTree(out);
                } catch (IOException e) {
                    log.println("warning: cannot delete " + out + ": " + e.getMessage());
                }
            }
        }
        return best;
    }

    // ---------------------------------------------------------------------------------- disk space

    /**
     * Fails early, saying how much is needed, when the cache's file system cannot hold the models
     * still to be generated, or the output directory's cannot hold the largest output (one at a
     * time: each is deleted before the next run).
     */
    private void checkSpace(List<BenchCase> cases, boolean big) {
        long generate = 0;
        long largestOutput = 0;
        long bigModels = 0;
        int fts = cases.stream().mapToInt(BenchCase::fineTunes).max().orElse(0);
        for (DType dt : options.dtypes()) {
            if (!cases.isEmpty()) {
                generate += BenchModels.missingBytes(options.cache(), options.shape(), dt, fts);
                largestOutput = Math.max(largestOutput, options.shape().bytes(dt));
            }
            if (big) {
                long b = BenchModels.missingBytes(options.cache(), options.bigShape(), dt,
                        BenchCase.BIG_LINEAR.fineTunes());
                bigModels += b;
                generate += b;
                largestOutput = Math.max(largestOutput, options.bigShape().bytes(dt));
            }
        }
        long margin = 64L << 20;
        long freeCache = BenchFiles.usableSpace(options.cache());
        long freeWork = BenchFiles.usableSpace(work);
        boolean shared = BenchFiles.sameFileSystem(options.cache(), work);
        long bigModel = options.bigShape().bytes(options.dtypes().getFirst());
        if (big) {
            log.printf(Locale.ROOT, "big case: %.2f GB per model (%s), %.2f GB of models still to generate in %s "
                            + "(%.2f GB free), %.2f GB for its output in %s (%.2f GB free)%n",
                    bigModel / 1e9, options.bigShape().name(), bigModels / 1e9, options.cache(), freeCache / 1e9,
                    bigModel / 1e9, work, freeWork / 1e9);
        }
        if (generate > 0) {
            log.printf(Locale.ROOT, "%.2f GB of models to generate (once) in %s; %.2f GB free%n", generate / 1e9,
                    options.cache(), freeCache / 1e9);
        }
        log.flush();
        boolean enough = shared ? freeCache >= generate + largestOutput + margin
                : freeCache >= generate + margin && freeWork >= largestOutput + margin;
        if (!enough) {
            throw AmalgamException.io(String.format(Locale.ROOT,
                            "not enough disk space for the benchmark: %.2f GB of models to generate in %s (%.2f GB "
                                    + "free) and %.2f GB for the largest output in %s (%.2f GB free)",
                            generate / 1e9, options.cache(), freeCache / 1e9, largestOutput / 1e9, work,
                            freeWork / 1e9), Where.file(options.cache()),
                    "free some space, choose another --cache or --work, or leave out --big", null);
        }
    }
}
