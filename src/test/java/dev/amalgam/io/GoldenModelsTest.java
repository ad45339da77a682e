package dev.amalgam.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The golden models written by the Python safetensors library (copied under
 * {@code src/test/resources/golden-models}) open and validate, and our writer reproduces them byte
 * for byte.
 */
class GoldenModelsTest {

    @TempDir
    Path dir;

    static Path golden(String model) {
        try {
            return Path.of(GoldenModelsTest.class.getResource("/golden-models/" + model).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void baseOpensWith39F16Tensors() {
        try (SafetensorsFile f = SafetensorsFile.open(golden("base").resolve("model.safetensors"))) {
            assertThat(f.tensors()).hasSize(39);
            assertThat(f.metadata()).isEqualTo(Map.of("format", "pt"));
            assertThat(f.tensors()).allSatisfy(t -> assertThat(t.dtype()).isEqualTo(DType.F16));
            assertThat(f.tensor("lm_head.weight").shapeString()).isEqualTo("[512, 64]");
            assertThat(f.tensor("model.layers.0.mlp.down_proj.weight").shapeString()).isEqualTo("[64, 120]");
            assertThat(f.tensor("model.layers.3.self_attn.k_proj.weight").shapeString()).isEqualTo("[32, 64]");
            assertThat(f.dataSectionOffset()).isEqualTo(8 + 4000);
            assertThat(f.fileSize()).isEqualTo(418856);
            long expected = 0;
            for (TensorInfo t : f.tensors()) {
                assertThat(t.dataStart()).isEqualTo(expected);
                expected = t.dataEnd();
            }
        }
    }

    @Test
    void ourWriterReproducesTheGoldenFileByteForByte() throws IOException {
        Path src = golden("base").resolve("model.safetensors");
        Path out = dir.resolve("copy.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(src)) {
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            for (TensorInfo t : f.tensors()) {
                entries.add(new SafetensorsWriter.Entry(t.name(), t.dtype(), t.shape()));
            }
            assertThat(SafetensorsWriter.fileSize(entries, f.metadata())).isEqualTo(f.fileSize());
            try (SafetensorsWriter w = SafetensorsWriter.create(out, entries, f.metadata())) {
                for (TensorInfo t : f.tensors().reversed()) {
                    w.write(t.name(), 0, f.data(t));
                }
                w.finish();
            }
        }
        assertThat(Files.mismatch(src, out)).isEqualTo(-1L);
    }

    @Test
    void shardedFtBOpensAndMatchesItsIndex() {
        Path d = golden("ft-b");
        Map<String, String> weightMap = SafetensorsIndex.readWeightMap(d.resolve("model.safetensors.index.json"));
        assertThat(weightMap).hasSize(39);
        assertThat(new TreeSet<>(weightMap.values())).containsExactly(
                "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                "model-00003-of-00003.safetensors");
        long total = 0;
        int tensors = 0;
        for (String shard : new TreeSet<>(weightMap.values())) {
            try (SafetensorsFile f = SafetensorsFile.open(d.resolve(shard))) {
                for (TensorInfo t : f.tensors()) {
                    assertThat(weightMap.get(t.name())).as(t.name()).isEqualTo(shard);
                    total += t.byteSize();
                    tensors++;
                }
            }
        }
        assertThat(tensors).isEqualTo(39);
        assertThat(total).isEqualTo(414848);
    }
}
