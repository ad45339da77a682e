package dev.amalgam.bench;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs one benchmark case in a fresh child JVM — the same {@code java} binary, class path and JVM
 * flags as this one, plus the Vector API module and native access — and measures it from outside:
 * {@code /proc/PID/status} is polled every {@value #POLL_MS} ms for the peak of RssAnon (the kernel
 * keeps no high-water mark for it) and VmHWM, and the child reports its own wall time, CPU time and
 * final VmHWM. Bench stage.
 */
final class ChildRunner {

    static final int POLL_MS = 20;
    private static final String VECTOR_MODULE = "jdk.incubator.vector";

    private ChildRunner() {
    }

    /** The command that starts {@link BenchChild} with {@code args}. */
    static List<String> command(List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        boolean vector = false;
        boolean nativeAccess = false;
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("-agentlib:jdwp") || a.startsWith("-Xrunjdwp")) {
                continue;
            }
            vector |= a.startsWith("--add-modules") && a.contains(VECTOR_MODULE);
            nativeAccess |= a.startsWith("--enable-native-access");
            cmd.add(a);
        }
        if (!vector) {
            cmd.add("--add-modules=" + VECTOR_MODULE);
        }
        if (!nativeAccess) {
            cmd.add("--enable-native-access=ALL-UNNAMED");
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(BenchChild.class.getName());
        cmd.addAll(args);
        return cmd;
    }

    /** Runs the child to completion and returns what it and the poller measured. */
    static Measurement run(List<String> args) {
        List<String> cmd = command(args);
        Process p;
        try {
            p = new ProcessBuilder(cmd).start();
        } catch (IOException e) {
            throw AmalgamException.io("cannot start a child JVM: " + e.getMessage(), Where.NONE,
                    "check that " + cmd.getFirst() + " can be run", e);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread to = drain(p.getInputStream(), out);
        Thread te = drain(p.getErrorStream(), err);
        long pid = p.pid();
        long peakAnon = -1;
        long peakHwm = -1;
        long lastCpu = -1;
        try {
            while (!p.waitFor(POLL_MS, TimeUnit.MILLISECONDS)) {
                ProcStatus s = ProcStatus.of(pid);
                peakAnon = Math.max(peakAnon, s.rssAnon());
                peakHwm = Math.max(peakHwm, s.vmHwm());
                long c = ProcStatus.cpuNanos(pid);
                lastCpu = c >= 0 ? c : lastCpu;
            }
            to.join();
            te.join();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw AmalgamException.io("interrupted", Where.NONE, null, e);
        }
        String stdout = out.toString(StandardCharsets.UTF_8);
        String stderr = err.toString(StandardCharsets.UTF_8);
        Map<String, Long> r = parse(stdout);
        if (p.exitValue() != 0 || r == null) {
            throw AmalgamException.io("benchmark child failed (exit " + p.exitValue() + "): "
                            + tail(stderr.isBlank() ? stdout : stderr), Where.NONE,
                    "run the child by hand to see more: " + String.join(" ", cmd), null);
        }
        long hwm = Math.max(peakHwm, r.get("hwm"));
        long anon = Math.max(peakAnon, r.get("anon"));
        return new Measurement(r.get("wall_ns"), r.get("cpu_ns"), hwm, anon, r.get("read"), r.get("written"),
                lastCpu, ProcStatus.loadAverage());
    }

    /** The key=value pairs of the child's RESULT line, or null if there is none. */
    static Map<String, Long> parse(String stdout) {
        for (String line : stdout.split("\n")) {
            if (line.startsWith(BenchChild.RESULT + " ")) {
                Map<String, Long> m = new HashMap<>();
                for (String kv : line.substring(BenchChild.RESULT.length() + 1).trim().split(" ")) {
                    int eq = kv.indexOf('=');
                    m.put(kv.substring(0, eq), Long.parseLong(kv.substring(eq + 1)));
                }
                return m;
            }
        }
        return null;
    }

    private static Thread drain(InputStream in, ByteArrayOutputStream sink) {
        Thread t = Thread.ofPlatform().daemon().start(() -> {
            try (in) {
                in.transferTo(sink);
            } catch (IOException ignored) {
                // the child has gone; what was read is kept
            }
        });
        return t;
    }

    private static String tail(String s) {
        String t = s.strip().replace("WARNING: Using incubator modules: " + VECTOR_MODULE, "").strip();
        return t.length() > 2000 ? "..." + t.substring(t.length() - 2000) : t;
    }
}
