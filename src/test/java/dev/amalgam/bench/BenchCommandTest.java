package dev.amalgam.bench;

import dev.amalgam.cli.BenchCommand;
import dev.amalgam.io.DType;
import dev.amalgam.method.Methods;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The benchmark end to end on the small shape: models generated into a temporary cache, cases and
 * floors in child JVMs, the table and the CSV, outputs deleted, models reused. Timings are printed,
 * never asserted. The quick test runs two cases and the big case in float16; the slow one
 * ({@code -Pslow}) runs every case in both dtypes.
 */
class BenchCommandTest {

    private static int run(StringWriter out, StringWriter err, String... args) {
        CommandLine cl = new CommandLine(new BenchCommand());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    @Test
    void smallBenchRunsEndToEndAndWritesTheCsv(@TempDir Path cache) throws IOException {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        Path csv = cache.resolve("results.csv");
        int code = run(out, err, "--small", "--big", "--cases", "slerp,linear", "--dtype", "float16", "--cache",
                cache.toString(), "--csv", csv.toString(), "-j", "2");
        System.out.println(out);
        assertThat(code).as(err.toString()).isZero();

        List<String> lines = Files.readAllLines(csv);
        assertThat(lines.getFirst()).isEqualTo(BenchRow.CSV_HEADER);
        assertThat(lines.subList(1, lines.size())).extracting(l -> l.substring(0, l.indexOf(',')))
                .containsExactly("floor-x2", "slerp", "floor-x3", "linear", "big-floor-x2", "big-linear");
        checkRows(lines);
        assertThat(lines.get(2)).contains(",floor-x2,");
        assertThat(out.toString()).contains("peak RssAnon MiB").contains("slerp").contains("x floor");
        // outputs are deleted; the models stay for the next run
        try (Stream<Path> s = Files.list(cache.resolve("work"))) {
            assertThat(s.filter(Files::isDirectory)).isEmpty();
        }
        assertThat(BenchModels.missingBytes(cache, BenchShape.SMALL, DType.F16, 3)).isZero();

        StringWriter err2 = new StringWriter();
        assertThat(run(new StringWriter(), err2, "--small", "--cache", cache.toString(), "--cases", "linear",
                "--dtype", "float16", "--repeat", "2")).isZero();
        assertThat(err2.toString()).doesNotContain("generating").contains("run 2/2");
        assertThat(cache.resolve("bench-results.csv")).exists();
    }

    @Test
    @Tag("slow")
    void smallBenchRunsEveryCaseInBothDtypes(@TempDir Path cache) throws IOException {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = run(out, err, "--small", "--big", "--cache", cache.toString());
        System.out.println(out);
        assertThat(code).as(err.toString()).isZero();
        List<String> lines = Files.readAllLines(cache.resolve("bench-results.csv"));
        for (String dtype : List.of("float16", "bfloat16")) {
            for (BenchCase c : BenchCase.values()) {
                if (Methods.byName(c.method()) != null) {
                    assertThat(lines).anySatisfy(l -> assertThat(l).startsWith(c.id() + "," + dtype + ","));
                }
            }
        }
        checkRows(lines);
        if (Methods.byName("model_stock") == null) {
            assertThat(err.toString()).contains("skipping model_stock");
        }
    }

    private static void checkRows(List<String> lines) {
        for (String l : lines.subList(1, lines.size())) {
            String[] f = l.split(",", -1);
            assertThat(f).hasSize(14);
            assertThat(Double.parseDouble(f[2])).as(l).isPositive();      // wall
            assertThat(Long.parseLong(f[5])).as(l).isPositive();          // peak RssAnon
            assertThat(Long.parseLong(f[8])).as(l).isPositive();          // bytes read
            assertThat(Long.parseLong(f[9])).as(l).isPositive();          // bytes written
        }
    }

    @Test
    void badOptionsAreInputErrors(@TempDir Path cache) {
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new BenchCommand());
        cl.setErr(new PrintWriter(err, true));
        cl.setOut(new PrintWriter(new StringWriter(), true));
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println(ex.getMessage());
            return 2;
        });
        assertThat(cl.execute("--small", "--cache", cache.toString(), "--cases", "slerp,nope")).isEqualTo(2);
        assertThat(err.toString()).contains("unknown benchmark case 'nope'");
        assertThat(cl.execute("--small", "--cache", cache.toString(), "--dtype", "float8")).isEqualTo(2);
        assertThat(err.toString()).contains("unsupported --dtype 'float8'");
    }

    @Test
    void theRecipesParseAndTheShapesHaveTheRightSize() {
        assertThat(BenchShape.TINYLLAMA.parameters()).isEqualTo(1_100_048_384L);
        assertThat(BenchShape.BIG.parameters()).isGreaterThan(1_048_576_000L);
    }

    @Test
    void theChildResultLineParses() {
        var m = ChildRunner.parse("WARNING: x\nRESULT wall_ns=5 cpu_ns=7 read=11 written=13 hwm=17 anon=19\n");
        assertThat(m).containsEntry("wall_ns", 5L).containsEntry("anon", 19L);
        assertThat(ChildRunner.parse("nothing")).isNull();
    }
}
