package dev.amalgam.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code amalgam check} through picocli: output layout, exit codes, {@code --quiet}. */
class CheckCommandTest {

    @TempDir
    Path tmp;

    /** Exit code and standard output of {@code check ARGS}. */
    record Run(int exitCode, String out, String err) {
    }

    static Run check(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new CheckCommand());
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private Path write(String yaml) throws IOException {
        Path f = tmp.resolve("recipe.yml");
        Files.writeString(f, yaml);
        return f;
    }

    @Test
    void validRecipeExitsZero() throws IOException {
        Path f = write("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n");
        Run r = check(f.toString());
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).isEqualTo(f + ": valid mergekit recipe" + System.lineSeparator());
    }

    @Test
    void warningsAloneStillExitZero() throws IOException {
        Path f = write("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\ndtyp: float16\n");
        Run r = check(f.toString());
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).startsWith("warning: unknown key 'dtyp'")
                .contains("  at " + f + ":5:1", "  hint: did you mean 'dtype'?")
                .endsWith(f + ": valid mergekit recipe (1 warning)" + System.lineSeparator());
    }

    @Test
    void aChatTemplateThatIsNoTemplateIsAnErrorAsInMergekit() throws IOException {
        Path f = write("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\nchat_template: chatlm\n");
        Run r = check(f.toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.out()).startsWith("error: chat_template 'chatlm' is neither 'auto', a built-in template nor a "
                        + "Jinja template")
                .contains("  at " + f + ":5:16 (chat_template)", "  hint: did you mean 'chatml'?");
    }

    @Test
    void everyProblemIsListedAndTheExitCodeIsTwo() throws IOException {
        Path f = write("""
                merge_method: slerp
                base_model: a
                models:
                  - model: a
                  - model: b
                  - model: c
                parameters:
                  tt: 0.5
                """);
        Run r = check(f.toString());
        assertThat(r.exitCode()).isEqualTo(2);
        String nl = System.lineSeparator();
        assertThat(r.out()).isEqualTo(String.join(nl,
                "error: missing required parameter 't'",
                "  at " + f + ":1:15 (merge_method)",
                "  hint: add 't:' under the top-level 'parameters:'",
                "error: slerp merges exactly two models, got 3",
                "  at " + f + ":4:5 (models[0])",
                "  hint: list exactly two models, one of them the base_model; use multislerp or linear for more",
                "warning: parameter 'tt' is not used by slerp",
                "  at " + f + ":8:7 (parameters.tt)",
                "  hint: did you mean 't'?",
                f + ": invalid mergekit recipe: 2 errors, 1 warning", ""));
    }

    @Test
    void quietLeavesOutWarnings() throws IOException {
        Path f = write("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weigth: 1}\n");
        Run r = check("--quiet", f.toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.out()).contains("error: missing required parameter 'weight' for model a")
                .doesNotContain("warning:").contains("invalid mergekit recipe: 1 error, 1 warning");
    }

    @Test
    void multiAndMoeFilesAreNamedInTheVerdict() throws IOException {
        Path f = write("name: a\nmerge_method: linear\nmodels: [{model: x, parameters: {weight: 1}}]\n---\n"
                + "merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\n");
        assertThat(check(f.toString()).out()).endsWith("valid mergekit-multi recipe with 2 merges"
                + System.lineSeparator());
        Path moe = write("base_model: b\ngate_mode: random\nexperts:\n  - source_model: x\n  - source_model: x\n");
        assertThat(check(moe.toString()).out()).endsWith("valid mergekit-moe recipe" + System.lineSeparator());
    }
}
