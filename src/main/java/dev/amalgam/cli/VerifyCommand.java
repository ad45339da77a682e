package dev.amalgam.cli;

import dev.amalgam.output.Verifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code amalgam verify OUT}: checks a model directory as loaders will find it. Exit 0 when it
 * is sound (warnings allowed), 2 when not. CLI stage.
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Check a model directory: headers, index, config and tokenizer consistency, optionally values.")
public final class VerifyCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "A model directory.")
    Path model;

    @Option(names = "--scan", description = "Also read every value and report NaN or infinite values.")
    boolean scan;

    @Option(names = "--stacktrace", description = "Show stack traces of errors.")
    boolean stacktrace;

    @Override
    public Integer call() {
        PrintWriter w = spec.commandLine().getOut();
        List<Verifier.Finding> findings = Verifier.verify(model, scan);
        long errors = findings.stream().filter(Verifier.Finding::error).count();
        for (Verifier.Finding f : findings) {
            w.println((f.error() ? "error: " : "warning: ") + f.message());
        }
        w.println(errors == 0 ? "ok: " + model + " is a complete model directory"
                : "invalid: " + model + " (" + errors + " error(s))");
        w.flush();
        return errors == 0 ? 0 : 2;
    }
}
