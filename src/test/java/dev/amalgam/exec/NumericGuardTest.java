package dev.amalgam.exec;

import dev.amalgam.golden.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Infinite or NaN values a merge creates are reported by tensor; {@code --strict} refuses the model. */
class NumericGuardTest {

    @TempDir
    Path tmp;

    private Path recipe() throws IOException {
        Path r = tmp.resolve("r.yml");
        Files.writeString(r, "slices:\n  - sources:\n      - model: " + Golden.root().resolve("models/ft-a")
                + "\n        layer_range: [0, 4]\n        parameters:\n          scale:\n"
                + "            - filter: layers.2.mlp.up_proj\n              value: 1.0e+30\n"
                + "            - value: 1.0\nmerge_method: passthrough\n");
        return r;
    }

    @Test
    void overflowIsReportedWithTheTensorName() throws IOException {
        Golden.Run r = Golden.cli("merge", recipe().toString(), tmp.resolve("out").toString(), "--quiet");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).contains("warning: model.layers.2.mlp.up_proj.weight has 7680 NaN or infinite values "
                + "(the inputs had none there)", "hint: --strict makes this an error");
        assertThat(r.err()).doesNotContain("layers.1.mlp");
        assertThat(tmp.resolve("out/model.safetensors")).exists();
    }

    @Test
    void strictRefusesTheModel() throws IOException {
        Golden.Run r = Golden.cli("merge", recipe().toString(), tmp.resolve("out").toString(), "--quiet", "--strict");
        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.err()).contains("error: the merge produced non-finite values: "
                + "model.layers.2.mlp.up_proj.weight has 7680 NaN or infinite values");
        assertThat(tmp.resolve("out")).doesNotExist();
        assertThat(tmp.resolve(".out.amalgam-partial")).doesNotExist();
    }
}
