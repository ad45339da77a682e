package dev.amalgam.golden;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code --rng mergekit}: DARE and DELLA masks drawn from the seeded MT19937 stream as mergekit
 * draws them, so the seeded golden cases match bit for bit — whatever the thread count.
 */
class GoldenMergekitRngTest {

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"dare_ties", "dare_linear", "della", "della_linear"})
    void seededCasesAreBitIdentical(String name) throws IOException {
        for (String threads : new String[]{"1", "2"}) {
            Path out = tmp.resolve("out-" + threads);
            Golden.Run run = Golden.merge(name, out, "--rng", "mergekit", "-j", threads);
            assertThat(run.exitCode()).as(run.err()).isZero();
            Golden.Comparison c = Golden.compare(out, Golden.caseDir(name).resolve("out"));
            assertThat(c.problems()).as(c.toString()).isEmpty();
            assertThat(c.bitEqual()).as(name + " -j " + threads + ": " + c + " " + c.differingByTensor())
                    .isEqualTo(c.elements());
        }
    }

    @Test
    void mergekitModeNeedsASeed() throws IOException {
        Path recipe = tmp.resolve("r.yml");
        Files.copy(Golden.caseDir("dare_ties").resolve("config.yml"), recipe);
        Golden.Run run = Golden.cli("merge", recipe.toString(), tmp.resolve("o").toString(), "--rng", "mergekit");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("--rng mergekit needs --random-seed");
    }

    @Test
    void unseededRunRecordsItsSeedAndRepeats() throws IOException {
        Path a = tmp.resolve("a");
        Golden.Run first = Golden.merge("dare_linear", a.resolve("x"));
        assertThat(first.exitCode()).as(first.err()).isZero();
        String card = Files.readString(a.resolve("x/README.md"));
        assertThat(card).contains("this merge used the seed 42");
        Path b = tmp.resolve("b");
        String recipe = Golden.caseDir("dare_linear").resolve("config.yml").toString();
        Golden.Run r1 = Golden.cli("merge", copy(recipe, "r1.yml"), b.resolve("one").toString());
        assertThat(r1.exitCode()).as(r1.err()).isZero();
        String seed = r1.out().replaceAll("(?s).*random seed (\\d+) .*", "$1");
        assertThat(seed).matches("\\d+");
        Golden.Run r2 = Golden.cli("merge", copy(recipe, "r2.yml"), b.resolve("two").toString(), "--random-seed",
                seed, "-j", "1", "--quiet");
        assertThat(r2.exitCode()).as(r2.err()).isZero();
        assertThat(Files.readAllBytes(b.resolve("two/model.safetensors")))
                .isEqualTo(Files.readAllBytes(b.resolve("one/model.safetensors")));
        assertThat(Files.readString(b.resolve("one/README.md"))).contains("the seed " + seed);
    }

    private String copy(String recipe, String name) throws IOException {
        Path p = Golden.root().resolve(name);
        Files.copy(Path.of(recipe), p, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return p.toString();
    }
}
