package dev.amalgam.model;

import dev.amalgam.golden.Golden;
import dev.amalgam.io.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The golden {@code lora} case: mergekit merged {@code models/base+models/lora-a} (a float32 rank-4
 * PEFT adapter on q_proj, v_proj and down_proj) into a float16 model in its LoRA cache, then ran
 * task arithmetic over it. Amalgam applies the adapter while reading, with no cache.
 */
class LoraGoldenTest {

    @TempDir
    Path tmp;

    @Test
    void adaptedBaseIsBitIdenticalToMergekitsMergedModel() throws IOException {
        Path root = Golden.root();
        Map<String, DType> dt = new HashMap<>();
        Map<String, float[]> ref = Golden.load(root.resolve("cases/lora/lora-cache/base_711887631_lora-a_2621138303"), dt);
        List<String> warnings = new ArrayList<>();
        long n = 0;
        long equal = 0;
        long adapted = 0;
        try (Model m = LoraAdapter.apply(Model.open(root.resolve("models/base"), "models/base"),
                root.resolve("models/lora-a"), "models/lora-a", null, warnings)) {
            assertThat(m.tensors().keySet()).isEqualTo(ref.keySet());
            for (Map.Entry<String, float[]> e : ref.entrySet()) {
                TensorHandle h = m.tensor(e.getKey());
                assertThat(h.info().dtype()).isEqualTo(dt.get(e.getKey()));
                float[] ours = new float[e.getValue().length];
                h.read(0, ours.length, ours, 0);
                adapted += h.stored() ? 0 : 1;
                for (int i = 0; i < ours.length; i++) {
                    n++;
                    equal += Float.floatToIntBits(ours[i]) == Float.floatToIntBits(e.getValue()[i]) ? 1 : 0;
                }
            }
        }
        System.out.printf(Locale.ROOT, "lora-cache: %d tensors adapted, %d of %d elements bit-equal%n", adapted,
                equal, n);
        assertThat(warnings).isEmpty();
        assertThat(adapted).isEqualTo(12);
        assertThat(equal).isEqualTo(n);
    }

    @Test
    void loraCaseMatchesMergekit() throws IOException {
        Path out = tmp.resolve("out");
        Golden.Run run = Golden.merge("lora", out);
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.err()).contains("--lora-merge-cache");
        assertThat(Files.exists(Golden.root().resolve("cases/lora/lora-cache/base_711887631_lora-a_2621138303/"
                + "generation_config.json"))).isFalse();
        Golden.Comparison c = Golden.compare(out, Golden.caseDir("lora").resolve("out"));
        System.out.println("lora: " + c);
        assertThat(c.problems()).isEmpty();
        assertThat(c.bitEqualFraction()).isGreaterThanOrEqualTo(0.999);
        assertThat(c.withinOneUlp()).isEqualTo(c.elements() - Math.round(c.bitEqualFraction() * c.elements()));
        assertThat(Files.readString(out.resolve("README.md"))).contains("* models/base + models/lora-a");
    }
}
