package dev.amalgam.tokenizer;

import dev.amalgam.golden.Golden;
import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The default-embedding rules that the golden cases do not reach, seen through one model: a
 * linear merge with weights 0, 0, 1 outputs the third model's re-indexed matrix exactly.
 */
class EmbeddingDefaultsTest {

    private static final int H = 64;

    @TempDir
    Path tmp;

    @Test
    void meanOfTheModelsThatHaveATokenWhenTheBaseLacksIt() throws IOException {
        String recipe = "merge_method: linear\nbase_model: models/variant\nmodels:\n"
                + "  - model: models/base\n    parameters:\n      weight: 0.0\n"
                + "  - model: models/chatml\n    parameters:\n      weight: 0.0\n"
                + "  - model: models/variant\n    parameters:\n      weight: 1.0\n"
                + "tokenizer:\n  source: union\n  pad_to_multiple_of: 128\ndtype: float16\n";
        Path file = Golden.root().resolve("recipe-embedding-defaults.yml");
        Files.writeString(file, recipe);
        Path out = tmp.resolve("out");
        Golden.Run run = Golden.cli("merge", file.toString(), out.toString(), "--quiet");
        assertThat(run.exitCode()).as(run.err()).isZero();
        HfTokenizer t = HfTokenizer.read(out, "out");
        HfTokenizer base = HfTokenizer.read(Golden.root().resolve("models/base"), "base");
        HfTokenizer chatml = HfTokenizer.read(Golden.root().resolve("models/chatml"), "chatml");
        HfTokenizer variant = HfTokenizer.read(Golden.root().resolve("models/variant"), "variant");
        assertThat(t.size()).isEqualTo(692);
        for (String name : List.of("model.embed_tokens.weight", "lm_head.weight")) {
            float[] o = load(out, name);
            float[] b = load(Golden.root().resolve("models/base"), name);
            float[] c = load(Golden.root().resolve("models/chatml"), name);
            float[] v = load(Golden.root().resolve("models/variant"), name);
            assertThat(o.length).isEqualTo(768 * H);
            int averaged = 0;
            for (Map.Entry<String, Integer> e : t.vocab().entrySet()) {
                int id = e.getValue();
                int vi = variant.id(e.getKey());
                int bi = base.id(e.getKey());
                int ci = chatml.id(e.getKey());
                for (int k = 0; k < H; k++) {
                    float expected;
                    if (vi >= 0) {
                        expected = v[vi * H + k];
                    } else if (bi >= 0) {
                        float sum = Codec.round(DType.F16, Codec.round(DType.F16, 0f + b[bi * H + k]) + c[ci * H + k]);
                        expected = Codec.round(DType.F16, sum / 2);
                    } else {
                        expected = c[ci * H + k];
                    }
                    assertThat(o[id * H + k]).as("%s %s col %d", name, e.getKey(), k).isEqualTo(expected);
                }
                averaged += vi < 0 && bi >= 0 ? 1 : 0;
            }
            assertThat(averaged).isEqualTo(178);
            for (int k = 0; k < H; k++) {
                double s = 0;
                for (int r = 0; r < 692; r++) {
                    s += o[r * H + k];
                }
                float mean = Codec.round(DType.F16, (float) (s / 692));
                for (int r = 692; r < 768; r++) {
                    assertThat(o[r * H + k]).as("padding row %d col %d", r, k).isEqualTo(mean);
                }
            }
        }
    }

    private static float[] load(Path dir, String name) throws IOException {
        return Golden.load(dir, new HashMap<>()).get(name);
    }
}
