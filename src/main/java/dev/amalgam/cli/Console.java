package dev.amalgam.cli;

import dev.amalgam.error.Where;
import dev.amalgam.exec.RunSummary;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Terminal output shared by the commands: warnings with their location, and the summary line.
 * CLI stage.
 */
final class Console {

    private Console() {
    }

    static void warn(PrintWriter err, String message, Where where, String hint) {
        StringBuilder sb = new StringBuilder("warning: ").append(message);
        if (where != null && !where.isEmpty()) {
            sb.append("\n  at ").append(where);
        }
        if (hint != null && !hint.isBlank()) {
            sb.append("\n  hint: ").append(hint);
        }
        err.println(sb);
        err.flush();
    }

    static String bytes(long b) {
        if (b < 1024) {
            return b + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = b;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    static String summary(RunSummary s) {
        double secs = s.wallNanos() / 1e9;
        long outside = s.unusedInputs().stream().filter(u -> u.endsWith("(layer not selected by any layer_range)"))
                .count();
        long other = s.unusedInputs().size() - outside;
        String inputs = s.unusedInputs().isEmpty() ? "%n  every input tensor is in the output"
                : String.format(Locale.ROOT, "%%n  input tensors not in the output: %d outside the layer ranges, "
                        + "%d other (-v lists them)", outside, other);
        if (s.seed() != null) {
            inputs += String.format(Locale.ROOT, "%%n  random seed %d (--random-seed %d repeats this merge)", s.seed(),
                    s.seed());
        }
        return String.format(Locale.ROOT,
                "merged %d tensors (%d computed, %d copied) into %s%n"
                        + "  %s read, %s written in %.2f s (%s/s written), peak memory %s" + inputs,
                s.tensors(), s.merged(), s.copied(), s.output(), bytes(s.bytesRead()), bytes(s.bytesWritten()),
                secs, bytes((long) (s.bytesWritten() / Math.max(secs, 1e-9))),
                s.peakRssBytes() < 0 ? "unknown" : bytes(s.peakRssBytes()));
    }
}
