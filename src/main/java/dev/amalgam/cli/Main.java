package dev.amalgam.cli;

import dev.amalgam.error.AmalgamException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.Arrays;

/**
 * The {@code amalgam} command line: a thin shell over the library. CLI stage; it parses options,
 * renders {@link AmalgamException}s as one clear message, and maps them to exit codes (2 bad
 * input, 3 I/O or numeric failure, 4 internal bug). Stack traces only with {@code --stacktrace}.
 */
@Command(name = "amalgam", mixinStandardHelpOptions = true, version = "amalgam 0.1.0",
        description = "Merges language models from mergekit recipes.",
        subcommands = {MergeCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns the exit code. */
    public static int run(String... args) {
        boolean trace = Arrays.asList(args).contains("--stacktrace");
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            if (ex instanceof AmalgamException ae) {
                err.println(ae.render());
                if (trace) {
                    ae.printStackTrace(err);
                }
                err.flush();
                return ae.exitCode();
            }
            err.println("error: internal failure: " + ex);
            err.println("  hint: this is a bug in Amalgam; rerun with --stacktrace and report it");
            if (trace) {
                ex.printStackTrace(err);
            }
            err.flush();
            return AmalgamException.Kind.INTERNAL.exitCode();
        });
        return cl.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
