package dev.amalgam.bench;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.DType;
import dev.amalgam.synth.Synth;
import dev.amalgam.synth.SynthSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The cached input models of the benchmark: a fresh base model and fine-tunes (base plus
 * N(0, 0.002²)) of one shape and dtype, generated with {@link Synth} once and reused by every later
 * run. Bench stage. A model is written to {@code NAME.partial} and renamed when complete, so an
 * interrupted generation is redone rather than reused.
 */
public final class BenchModels {

    /** Bumped whenever the generated models change, so stale caches are not reused. */
    static final String VERSION = "v1";
    static final double NOISE = 0.002;
    static final long BASE_SEED = 1100;

    private BenchModels() {
    }

    /**
     * The models of one shape and dtype.
     *
     * @param base      the base model
     * @param fineTunes the fine-tunes, in order
     */
    public record ModelSet(Path base, List<Path> fineTunes) {

        /** Every model, the base first. */
        public List<Path> all() {
            List<Path> l = new ArrayList<>();
            l.add(base);
            l.addAll(fineTunes);
            return l;
        }
    }

    /** The directory of the models of this shape and dtype. */
    static Path dir(Path cache, BenchShape shape, DType dtype) {
        return cache.resolve(VERSION).resolve(shape.name()).resolve(dtype.torchName());
    }

    /** The model set, without generating anything. */
    static ModelSet locate(Path cache, BenchShape shape, DType dtype, int fineTunes) {
        Path d = dir(cache, shape, dtype);
        List<Path> fts = new ArrayList<>();
        for (int i = 1; i <= fineTunes; i++) {
            fts.add(d.resolve("ft" + i));
        }
        return new ModelSet(d.resolve("base"), List.copyOf(fts));
    }

    /** Tensor bytes still to be generated for this set (0 when it is complete). */
    static long missingBytes(Path cache, BenchShape shape, DType dtype, int fineTunes) {
        long n = 0;
        for (Path p : locate(cache, shape, dtype, fineTunes).all()) {
            if (!Files.isDirectory(p)) {
                n += shape.bytes(dtype);
            }
        }
        return n;
    }

    /** Returns the set, generating whatever is missing and saying so on {@code log}. */
    public static ModelSet ensure(Path cache, BenchShape shape, DType dtype, int fineTunes, PrintWriter log) {
        ModelSet s = locate(cache, shape, dtype, fineTunes);
        generate(s.base(), shape.freshSpec(dtype, BASE_SEED), log);
        for (int i = 0; i < s.fineTunes().size(); i++) {
            generate(s.fineTunes().get(i), SynthSpec.derived(s.base(), NOISE, BASE_SEED + 1 + i), log);
        }
        return s;
    }

    private static void generate(Path dir, SynthSpec spec, PrintWriter log) {
        if (Files.isDirectory(dir)) {
            return;
        }
        Path partial = dir.resolveSibling(dir.getFileName() + ".partial");
        long t0 = System.nanoTime();
        log.printf(Locale.ROOT, "generating %s ...%n", dir);
        log.flush();
        try {
            BenchFiles.deleteTree(partial);
            Files.createDirectories(partial.getParent());
            Synth.Result r = Synth.write(spec, partial);
            Files.move(partial, dir, StandardCopyOption.ATOMIC_MOVE);
            log.printf(Locale.ROOT, "generated %s: %,d parameters, %.2f GB in %.1f s%n", dir, r.parameters(),
                    r.tensorBytes() / 1e9, (System.nanoTime() - t0) / 1e9);
            log.flush();
        } catch (IOException e) {
            throw AmalgamException.io("cannot generate benchmark model '" + dir + "': " + e.getMessage(),
                    Where.file(dir), "check the cache directory (--cache) and free disk space", e);
        }
    }
}
