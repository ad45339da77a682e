package dev.amalgam.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The memory figures of a Linux process from {@code /proc/PID/status}, its CPU time from
 * {@code /proc/PID/stat}, and the machine's load from {@code /proc/loadavg}. Bench stage. Every field is -1 when it cannot be read (another OS, or
 * the process has gone).
 *
 * @param vmHwm    peak resident set size in bytes (VmHWM)
 * @param vmRss    resident set size in bytes (VmRSS)
 * @param rssAnon  resident anonymous memory in bytes (RssAnon): heap, stacks, native buffers — not
 *                 the mapped model files
 */
record ProcStatus(long vmHwm, long vmRss, long rssAnon) {

    static final ProcStatus NONE = new ProcStatus(-1, -1, -1);

    /** Clock ticks per second of {@code /proc/PID/stat}'s times (USER_HZ, 100 on Linux). */
    private static final long USER_HZ = 100;

    static ProcStatus self() {
        return of(ProcessHandle.current().pid());
    }

    static ProcStatus of(long pid) {
        String text;
        try {
            text = Files.readString(Path.of("/proc", Long.toString(pid), "status"), StandardCharsets.US_ASCII);
        } catch (IOException | RuntimeException e) {
            return NONE;
        }
        long hwm = -1;
        long rss = -1;
        long anon = -1;
        for (String line : text.split("\n")) {
            if (line.startsWith("VmHWM:")) {
                hwm = kb(line);
            } else if (line.startsWith("VmRSS:")) {
                rss = kb(line);
            } else if (line.startsWith("RssAnon:")) {
                anon = kb(line);
            }
        }
        return new ProcStatus(hwm, rss, anon);
    }

    /** utime + stime of a process in nanoseconds, or -1. */
    static long cpuNanos(long pid) {
        try {
            String s = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.US_ASCII);
            // the command name (field 2) is in parentheses and may hold spaces: count fields after it
            String[] f = s.substring(s.lastIndexOf(')') + 2).trim().split(" +");
            long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // fields 14 utime, 15 stime
            return ticks * (1_000_000_000L / USER_HZ);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** The one-minute load average, or -1. */
    static double loadAverage() {
        try {
            String s = Files.readString(Path.of("/proc/loadavg"), StandardCharsets.US_ASCII);
            return Double.parseDouble(s.substring(0, s.indexOf(' ')));
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static long kb(String line) {
        String digits = line.replaceAll("[^0-9]", "");
        return digits.isEmpty() ? -1 : Long.parseLong(digits) * 1024;
    }
}
