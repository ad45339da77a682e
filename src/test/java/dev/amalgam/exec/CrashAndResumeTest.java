package dev.amalgam.exec;

import dev.amalgam.golden.Golden;
import dev.amalgam.io.DType;
import dev.amalgam.synth.Synth;
import dev.amalgam.synth.SynthSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A merge killed with {@code kill -9} (a real child process) at several points leaves nothing
 * that looks complete, and {@code --resume} then produces output byte-identical to an
 * uninterrupted run; a changed recipe is noticed and the merge starts over.
 */
class CrashAndResumeTest {

    private static final int TENSORS = 6 * 9 + 3;

    @TempDir
    Path tmp;
    Path recipe;
    Path reference;

    @BeforeEach
    void models() throws IOException {
        Synth.write(new SynthSpec("LlamaForCausalLM", 64, 96, 6, 4, 2, 256, DType.BF16, 2, false, 1L, null, 0),
                tmp.resolve("base"));
        Synth.write(SynthSpec.derived(tmp.resolve("base"), 0.02, 2), tmp.resolve("a"));
        Synth.write(SynthSpec.derived(tmp.resolve("base"), 0.02, 3), tmp.resolve("b"));
        recipe = tmp.resolve("recipe.yml");
        Files.writeString(recipe, recipe(0.6));
        reference = tmp.resolve("ref").resolve("out");
        Golden.Run r = Golden.cli("merge", recipe.toString(), reference.toString(), "--random-seed", "7", "--quiet",
                "--out-shard-size", "100K");
        assertThat(r.exitCode()).as(r.err()).isZero();
    }

    private String recipe(double weight) {
        return "merge_method: dare_ties\nbase_model: " + tmp.resolve("base") + "\nmodels:\n  - model: "
                + tmp.resolve("a") + "\n    parameters: {weight: " + weight + ", density: 0.5}\n  - model: "
                + tmp.resolve("b") + "\n    parameters: {weight: 0.4, density: 0.7}\ndtype: bfloat16\n";
    }

    /** Starts the CLI in a child JVM that pauses after {@code n} finished tensors, then kills it with SIGKILL. */
    private void mergeAndKill(Path out, int n) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules=jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-D" + Journal.PAUSE_PROPERTY + "=" + n,
                "-cp", System.getProperty("java.class.path"), "dev.amalgam.cli.Main", "merge", recipe.toString(),
                out.toString(), "--random-seed", "7", "--quiet", "--out-shard-size", "100K", "-j", "2"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            StringBuilder all = new StringBuilder();
            while ((line = r.readLine()) != null) {
                all.append(line).append('\n');
                if (line.contains("paused after")) {
                    break;
                }
            }
            assertThat(all.toString()).as("child output").contains("paused after " + n + " tensors");
            p.destroyForcibly();
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isEqualTo(137);
        }
    }

    private void assertSameFiles(Path out, Path ref) throws IOException {
        List<String> names;
        try (Stream<Path> s = Files.list(ref)) {
            names = s.map(p -> p.getFileName().toString()).filter(f -> !f.equals(Journal.FILE)).sorted().toList();
        }
        try (Stream<Path> s = Files.list(out)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(f -> !f.equals(Journal.FILE)).sorted().toList())
                    .isEqualTo(names);
        }
        assertThat(Golden.cli("verify", out.toString()).exitCode()).isZero();
        for (String f : names) {
            assertThat(Files.readAllBytes(out.resolve(f))).as(f).isEqualTo(Files.readAllBytes(ref.resolve(f)));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 7, TENSORS})
    void killedAtAnyPointResumesToIdenticalBytes(int after) throws Exception {
        Path out = tmp.resolve("out");
        mergeAndKill(out, after);
        assertThat(out).doesNotExist();
        assertThat(tmp.resolve(".out.amalgam-partial")).isDirectory();
        Golden.Run verify = Golden.cli("verify", out.toString());
        assertThat(verify.exitCode()).isEqualTo(2);
        Golden.Run resumed = Golden.cli("merge", recipe.toString(), out.toString(), "--random-seed", "7", "--quiet",
                "--out-shard-size", "100K", "--resume", "-j", "1");
        assertThat(resumed.exitCode()).as(resumed.err()).isZero();
        if (after > 0) {
            assertThat(resumed.err()).contains("resumed: kept " + after + " finished tensor(s)");
        }
        assertSameFiles(out, reference);
        assertThat(tmp.resolve(".out.amalgam-partial")).doesNotExist();
    }

    @Test
    void aChangedRecipeStartsOver() throws Exception {
        Path out = tmp.resolve("out");
        mergeAndKill(out, 10);
        Files.writeString(recipe, recipe(0.9));
        Golden.Run resumed = Golden.cli("merge", recipe.toString(), out.toString(), "--random-seed", "7", "--quiet",
                "--out-shard-size", "100K", "--resume");
        assertThat(resumed.exitCode()).as(resumed.err()).isZero();
        assertThat(resumed.err()).contains("used another recipe, other options or other inputs; starting over");
        Path fresh = tmp.resolve("fresh").resolve("out");
        assertThat(Golden.cli("merge", recipe.toString(), fresh.toString(), "--random-seed", "7", "--quiet",
                "--out-shard-size", "100K").exitCode()).isZero();
        assertSameFiles(out, fresh);
    }

    @Test
    void withoutResumeAnInterruptedMergeIsDiscardedAndRedone() throws Exception {
        Path out = tmp.resolve("out");
        mergeAndKill(out, 3);
        Golden.Run again = Golden.cli("merge", recipe.toString(), out.toString(), "--random-seed", "7", "--quiet",
                "--out-shard-size", "100K");
        assertThat(again.exitCode()).as(again.err()).isZero();
        assertThat(again.err()).contains("an interrupted merge into this directory was found and discarded");
        assertSameFiles(out, reference);
    }

    @Test
    void aDamagedFinishedTensorIsComputedAgain() throws Exception {
        Path out = tmp.resolve("out");
        mergeAndKill(out, TENSORS);
        Path partial = tmp.resolve(".out.amalgam-partial");
        Path shard;
        try (Stream<Path> s = Files.list(partial)) {
            shard = s.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList().getLast();
        }
        byte[] bytes = Files.readAllBytes(shard);
        bytes[bytes.length - 5] ^= 0x40;
        Files.write(shard, bytes);
        Golden.Run resumed = Golden.cli("merge", recipe.toString(), out.toString(), "--random-seed", "7", "--quiet",
                "--out-shard-size", "100K", "--resume");
        assertThat(resumed.exitCode()).as(resumed.err()).isZero();
        assertThat(resumed.err()).contains("resumed: kept " + (TENSORS - 1) + " finished tensor(s)");
        assertSameFiles(out, reference);
    }
}
