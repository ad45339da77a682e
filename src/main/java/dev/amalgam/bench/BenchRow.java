package dev.amalgam.bench;

import java.util.Locale;

/**
 * One line of the benchmark table: a case (or a floor) in one dtype, its best run, and its ratio
 * to the floor with the same input and output bytes. Bench stage.
 *
 * @param name    case id, or the floor's label
 * @param dtype   dtype of the models (torch name)
 * @param best    the fastest run
 * @param runs    how many runs were made
 * @param threads worker threads
 * @param floor   label of the floor it is compared with (its own label for a floor)
 * @param ratio   wall time over the floor's wall time
 */
public record BenchRow(String name, String dtype, Measurement best, int runs, int threads, String floor,
                       double ratio) {

    static final String CSV_HEADER = "case,dtype,wall_s,cpu_s,peak_rss_mib,peak_rss_anon_mib,throughput_gb_s,"
            + "ratio_to_floor,bytes_read,bytes_written,threads,runs,floor,load_avg";

    private static final String TABLE_FORMAT = "%-16s %-9s %8s %8s %12s %16s %7s %8s";

    static String tableHeader() {
        return String.format(Locale.ROOT, TABLE_FORMAT, "case", "dtype", "wall s", "CPU s", "peak RSS MiB",
                "peak RssAnon MiB", "GB/s", "x floor");
    }

    String tableLine() {
        return String.format(Locale.ROOT, TABLE_FORMAT, name, dtype, fmt(best.wallNanos() / 1e9, 2),
                fmt(best.cpuNanos() / 1e9, 2), mib(best.peakRss()), mib(best.peakRssAnon()),
                fmt(best.throughputGBs(), 2), fmt(ratio, 2));
    }

    String csvLine() {
        return String.join(",", name, dtype, fmt(best.wallNanos() / 1e9, 3), fmt(best.cpuNanos() / 1e9, 3),
                mib(best.peakRss()), mib(best.peakRssAnon()), fmt(best.throughputGBs(), 3), fmt(ratio, 3),
                Long.toString(best.bytesRead()), Long.toString(best.bytesWritten()), Integer.toString(threads),
                Integer.toString(runs), floor, fmt(best.loadAverage(), 2));
    }

    private static String fmt(double v, int decimals) {
        return Double.isFinite(v) && v >= 0 ? String.format(Locale.ROOT, "%." + decimals + "f", v) : "";
    }

    private static String mib(long bytes) {
        return bytes < 0 ? "" : Long.toString(Math.round(bytes / 1048576.0));
    }
}
