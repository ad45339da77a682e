package dev.amalgam.cli;

import dev.amalgam.method.MergeMethod;
import dev.amalgam.method.Methods;
import dev.amalgam.plan.CheckResult;
import dev.amalgam.plan.RecipeCheck;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.recipe.RecipeDocuments;
import dev.amalgam.recipe.Setting;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code amalgam check} gives mergekit's verdict on recipes published with real models (model
 * cards and mergekit issues), kept verbatim under {@code recipes/real-world/} with their source on
 * the first line; {@code verdicts.csv} records what mergekit makes of each and, for the invalid
 * ones, words {@code check} must say.
 */
class RealWorldRecipesTest {

    /** Methods with no published recipe to quote (mergekit added them in 2026). */
    private static final Set<String> UNPUBLISHED = Set.of("ram", "ramplus_tl");

    record Verdict(String file, boolean valid, String says, String reason) {
    }

    static Path dir() {
        try {
            return Path.of(RealWorldRecipesTest.class.getResource("/recipes/real-world/verdicts.csv").toURI())
                    .getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<Verdict> verdicts() {
        try {
            List<Verdict> out = new ArrayList<>();
            for (String line : Files.readAllLines(dir().resolve("verdicts.csv")).stream().skip(1).toList()) {
                String[] f = line.split(",", 4);
                out.add(new Verdict(f[0], f[1].equals("valid"), f[2], f[3]));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Stream<Arguments> cases() {
        return verdicts().stream().map(v -> Arguments.of(v.file(), v));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void checkGivesMergekitsVerdict(String file, Verdict v) {
        CheckCommandTest.Run r = CheckCommandTest.check(dir().resolve(file).toString());
        assertThat(r.exitCode()).as("%s: %s%n%s", file, v.reason(), r.out()).isEqualTo(v.valid() ? 0 : 2);
        if (!v.valid()) {
            assertThat(r.out()).as(file).contains("error: " + v.says());
        }
    }

    @Test
    void everyRecipeHasAVerdictAndASource() throws IOException {
        Set<String> listed = new TreeSet<>(verdicts().stream().map(Verdict::file).toList());
        try (Stream<Path> files = Files.list(dir())) {
            List<Path> yml = files.filter(p -> p.toString().endsWith(".yml")).sorted().toList();
            assertThat(yml).extracting(p -> p.getFileName().toString()).containsExactlyElementsOf(listed);
            for (Path p : yml) {
                assertThat(Files.readAllLines(p).getFirst()).as(p.toString()).startsWith("# source: ");
            }
        }
        assertThat(listed).hasSizeGreaterThanOrEqualTo(30);
    }

    @Test
    void corpusCoversEveryMethodAndForm() throws IOException {
        Set<String> methods = new TreeSet<>();
        Set<String> forms = new TreeSet<>();
        Set<CheckResult.Kind> kinds = EnumSet.noneOf(CheckResult.Kind.class);
        for (Verdict v : verdicts()) {
            Path p = dir().resolve(v.file());
            CheckResult result = RecipeCheck.check(p);
            kinds.add(result.kind());
            if (!v.valid() || result.kind() == CheckResult.Kind.MOE) {
                continue;
            }
            for (RecipeDocuments.Document d : RecipeDocuments.split(Files.readString(p), p.toString())) {
                Recipe r = Recipe.parse(d.text(), p.toString());
                methods.add(r.mergeMethod());
                forms.add(r.models() != null ? "models" : r.slices() != null ? "slices" : "modules");
                if (r.tokenizer() != null) {
                    forms.add(r.tokenizer().legacy() ? "tokenizer_source" : "tokenizer");
                }
                if (r.chatTemplate() != null) {
                    forms.add("chat_template");
                }
                settings(r).forEach(s -> {
                    if (s instanceof Setting.Gradient) {
                        forms.add("gradient");
                    }
                    if (s instanceof Setting.Conditionals c && c.entries().stream().anyMatch(e -> e.filter() != null)) {
                        forms.add("filter");
                    }
                });
            }
        }
        Set<String> expected = new TreeSet<>(Methods.all().stream().map(MergeMethod::name).toList());
        expected.removeAll(UNPUBLISHED);
        assertThat(methods).containsAll(expected);
        assertThat(forms).contains("models", "slices", "modules", "gradient", "filter", "tokenizer_source",
                "tokenizer", "chat_template");
        assertThat(kinds).containsExactlyInAnyOrder(CheckResult.Kind.values());
    }

    private static Stream<Setting> settings(Recipe r) {
        Stream<Setting> s = r.parameters().settings().values().stream();
        if (r.models() != null) {
            s = Stream.concat(s, r.models().stream().flatMap(m -> m.parameters().settings().values().stream()));
        }
        if (r.slices() != null) {
            s = Stream.concat(s, r.slices().stream().flatMap(sl -> sl.sources().stream())
                    .flatMap(src -> src.parameters().settings().values().stream()));
        }
        if (r.modules() != null) {
            s = Stream.concat(s, r.modules().values().stream().filter(m -> m.slices() != null)
                    .flatMap(m -> m.slices().stream()).flatMap(sl -> sl.sources().stream())
                    .flatMap(src -> src.parameters().settings().values().stream()));
        }
        return s;
    }
}
