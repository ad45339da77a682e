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
        subcommands = {MergeCommand.class, PlanCommand.class, InspectCommand.class, DemoCommand.class,
                SynthCommand.class, VerifyCommand.class, CheckCommand.class, BenchCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI on the process's standard streams and returns the exit code. */
    public static int run(String... args) {
        return run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    }

    /** Runs the CLI with the given output and error streams and returns the exit code. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        boolean trace = Arrays.asList(args).contains("--stacktrace");
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            PrintWriter w = cmd.getErr();
            if (ex instanceof AmalgamException ae) {
                w.println(ae.render());
                if (trace) {
                    ae.printStackTrace(w);
                }
                w.flush();
                return ae.exitCode();
            }
            w.println("error: internal failure: " + ex);
            w.println("  hint: this is a bug in Amalgam; rerun with --stacktrace and report it");
            if (trace) {
                ex.printStackTrace(w);
            }
            w.flush();
            return AmalgamException.Kind.INTERNAL.exitCode();
        });
        int code = cl.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
