package dev.amalgam.fuzz;

import dev.amalgam.error.AmalgamException;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * A seeded mutation fuzzer: for each iteration it derives a random stream from (seed, iteration),
 * asks the target for a mutated input and runs the target on it. The only exception a target may
 * let out is an {@link AmalgamException} of the kinds it declares; anything else is a
 * finding, saved under {@code target/fuzz-findings/} and reported with the seed and iteration that
 * reproduce it ({@code -Dfuzz.seed=S -Dfuzz.replay=I}).
 */
final class Fuzzer {

    /** What is fuzzed. */
    interface Target {
        String name();

        /** A mutated input, drawn from {@code rnd} alone. */
        byte[] generate(SplittableRandom rnd);

        /** Runs the code under test on {@code input}; returning normally means the input was accepted. */
        void run(byte[] input) throws Exception;

        /**
         * The kinds a refusal may have: a bad input must be reported as what it is (a corrupt file is
         * INPUT, not IO), so any other kind is a finding too.
         */
        Set<AmalgamException.Kind> refusalKinds();
    }

    private Fuzzer() {
    }

    /** The random stream of one iteration. */
    static SplittableRandom random(long seed, long iteration) {
        return new SplittableRandom(seed * 0x9E37_79B9_7F4A_7C15L + iteration);
    }

    /**
     * Runs {@code iterations} iterations (or only {@code replay}, when it is not negative).
     *
     * @return the counts; {@link Result#findings()} describes each distinct finding once
     */
    static Result run(Target t, long seed, int iterations, long replay, Path findingsDir) {
        long start = System.nanoTime();
        int accepted = 0;
        int failed = 0;
        Map<AmalgamException.Kind, Integer> refused = new EnumMap<>(AmalgamException.Kind.class);
        Map<String, String> findings = new LinkedHashMap<>();
        long from = replay >= 0 ? replay : 0;
        long to = replay >= 0 ? replay + 1 : iterations;
        for (long i = from; i < to; i++) {
            byte[] input = t.generate(random(seed, i));
            Throwable bad;
            try {
                t.run(input);
                accepted++;
                continue;
            } catch (AmalgamException e) {
                if (t.refusalKinds().contains(e.kind())) {
                    refused.merge(e.kind(), 1, Integer::sum);
                    continue;
                }
                bad = e;
            } catch (Throwable e) {
                bad = e;
            }
            failed++;
            String signature = signature(bad);
            if (!findings.containsKey(signature)) {
                findings.put(signature, describe(t, seed, i, input, bad, findingsDir));
            }
        }
        long millis = (System.nanoTime() - start) / 1_000_000;
        return new Result(t.name(), seed, (int) (to - from), accepted, failed, refused, new ArrayList<>(findings.values()),
                millis);
    }

    /** The outcome of a run. */
    record Result(String target, long seed, int iterations, int accepted, int failed,
                  Map<AmalgamException.Kind, Integer> refused, List<String> findings, long millis) {

        String summary() {
            String kinds = refused.entrySet().stream()
                    .map(e -> e.getKey() + " " + e.getValue()).collect(Collectors.joining(", "));
            return String.format(Locale.ROOT,
                    "fuzz %-11s seed %d: %d iterations in %.1f s: %d accepted, %d refused (%s), %d failed (%d distinct)",
                    target, seed, iterations, millis / 1000.0, accepted, iterations - accepted - failed,
                    kinds.isEmpty() ? "none" : kinds, failed, findings.size());
        }
    }

    /** Exception class and the first frame in Amalgam's code: one finding per place and kind of failure. */
    private static String signature(Throwable e) {
        for (StackTraceElement f : e.getStackTrace()) {
            if (f.getClassName().startsWith("dev.amalgam.") && !f.getClassName().startsWith("dev.amalgam.fuzz.")) {
                return e.getClass().getName() + " at " + f;
            }
        }
        return e.getClass().getName() + " at " + (e.getStackTrace().length > 0 ? e.getStackTrace()[0] : "?");
    }

    private static String describe(Target t, long seed, long iteration, byte[] input, Throwable e, Path dir) {
        String saved;
        try {
            Files.createDirectories(dir);
            Path p = dir.resolve(String.format(Locale.ROOT, "%s-seed%d-iter%d.bin", t.name(), seed, iteration));
            Files.write(p, input);
            saved = p.toString();
        } catch (IOException io) {
            saved = "(not saved: " + io.getMessage() + ")";
        }
        StringWriter trace = new StringWriter();
        e.printStackTrace(new PrintWriter(trace));
        String[] lines = trace.toString().split("\n");
        String head = String.join("\n", java.util.Arrays.asList(lines).subList(0, Math.min(lines.length, 12)));
        return String.format(Locale.ROOT, "%s: seed %d iteration %d (reproduce with -Dfuzz.seed=%d -Dfuzz.replay=%d), input %s%n%s",
                t.name(), seed, iteration, seed, iteration, saved, head);
    }
}
