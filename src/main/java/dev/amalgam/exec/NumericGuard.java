package dev.amalgam.exec;

import dev.amalgam.kernel.Kernels;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Notices NaN or infinite values that a merge created: a tensor whose output has non-finite
 * values where its inputs had none. Exec stage; the summary reports them and {@code --strict}
 * refuses to finish such a model.
 */
final class NumericGuard {

    private final List<String> findings = new ArrayList<>();

    /** Non-finite values among {@code v[0..n)}. */
    static long nonFinite(float[] v, int n) {
        return Kernels.countNonFinite(v, n);
    }

    synchronized void record(String tensor, long badInputs, long badOutputs) {
        if (badOutputs > 0 && badInputs == 0) {
            findings.add(String.format(Locale.ROOT, "%s has %d NaN or infinite values", tensor, badOutputs));
        }
    }

    synchronized List<String> findings() {
        return findings.stream().sorted().toList();
    }
}
