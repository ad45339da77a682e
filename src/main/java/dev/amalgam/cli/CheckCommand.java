package dev.amalgam.cli;

import dev.amalgam.plan.CheckResult;
import dev.amalgam.plan.Problem;
import dev.amalgam.plan.RecipeCheck;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code amalgam check RECIPE}: validates a recipe with no model present and lists every problem
 * at once, located; exit 0 when mergekit would accept it (warnings allowed), 2 when not. Takes
 * merge recipes, mergekit-multi files and mergekit-moe recipes. CLI stage.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Check a recipe (mergekit, mergekit-multi or mergekit-moe YAML) without any model: "
                + "list every problem, exit 0 if valid, 2 if not.")
public final class CheckCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "RECIPE", description = "The recipe file.")
    Path recipe;

    @Option(names = {"-q", "--quiet"}, description = "Print errors and the verdict only, no warnings.")
    boolean quiet;

    @Option(names = "--stacktrace", description = "Show stack traces of errors.")
    boolean stacktrace;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        CheckResult result = RecipeCheck.check(recipe);
        for (Problem p : result.problems()) {
            if (p.isError() || !quiet) {
                out.println(p.render());
            }
        }
        out.println(result.summary());
        out.flush();
        return result.valid() ? 0 : 2;
    }
}
