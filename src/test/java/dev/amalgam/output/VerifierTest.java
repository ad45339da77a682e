package dev.amalgam.output;

import dev.amalgam.golden.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code amalgam verify} on sound and damaged model directories. */
class VerifierTest {

    @TempDir
    Path tmp;

    private Path copy(String golden) throws IOException {
        return copy(golden, Golden.root().resolve(golden).getFileName().toString());
    }

    private Path copy(String golden, String name) throws IOException {
        Path src = Golden.root().resolve(golden);
        Path dst = tmp.resolve(name);
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.sorted(Comparator.naturalOrder()).toList()) {
                Path t = dst.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
        return dst;
    }

    @Test
    void referenceOutputsAndOurOwnAreSound() throws IOException {
        Golden.Run ref = Golden.cli("verify", Golden.root().resolve("models/ft-b").toString(), "--scan");
        assertThat(ref.exitCode()).as(ref.out()).isZero();
        assertThat(ref.out()).contains("ok: ");
        Path out = tmp.resolve("merged");
        assertThat(Golden.merge("sharded-in-out", out).exitCode()).isZero();
        Golden.Run ours = Golden.cli("verify", out.toString(), "--scan");
        assertThat(ours.exitCode()).as(ours.out()).isZero();
    }

    @Test
    void theJournalCatchesAChangedByte() throws IOException {
        Path out = tmp.resolve("merged");
        assertThat(Golden.merge("linear", out).exitCode()).isZero();
        assertThat(out.resolve(".amalgam-journal")).exists();
        assertThat(Golden.cli("verify", out.toString()).exitCode()).isZero();
        Path shard = out.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(shard);
        bytes[bytes.length - 3] ^= 0x01;
        Files.write(shard, bytes);
        Golden.Run r = Golden.cli("verify", out.toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.out()).contains("does not match the checksum recorded when it was written");
    }

    @Test
    void nanValuesAreFoundByAScan() {
        Golden.Run r = Golden.cli("verify", Golden.caseDir("nuslerp").resolve("out").toString(), "--scan");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.out()).contains("input_layernorm.weight holds 64 NaN and 0 infinite values");
        Golden.Run quick = Golden.cli("verify", Golden.caseDir("nuslerp").resolve("out").toString());
        assertThat(quick.exitCode()).isZero();
    }

    @Test
    void configThatDisagreesWithTheTensors() throws IOException {
        Path m = copy("models/ft-a");
        Path cfg = m.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"num_hidden_layers\": 4", "\"num_hidden_layers\": 6")
                .replace("\"vocab_size\": 512", "\"vocab_size\": 600"));
        Golden.Run r = Golden.cli("verify", m.toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.out()).contains("num_hidden_layers = 6 but the tensors have 4 layers",
                "vocab_size 600 but model.embed_tokens.weight has 512 rows");
    }

    @Test
    void missingShardAndStrayFiles() throws IOException {
        Path m = copy("models/ft-b");
        Files.delete(m.resolve("model-00002-of-00003.safetensors"));
        Golden.Run r = Golden.cli("verify", m.toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.out()).contains("model-00002-of-00003.safetensors", "missing");
        Path b = copy("models/ft-b", "both");
        Files.copy(Golden.root().resolve("models/ft-a/model.safetensors"), b.resolve("model.safetensors"));
        Golden.Run both = Golden.cli("verify", b.toString());
        assertThat(both.exitCode()).isEqualTo(2);
        assertThat(both.out()).contains("both model.safetensors and model.safetensors.index.json exist");
    }
}
