package dev.amalgam.io;

import dev.amalgam.error.AmalgamException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsIndexTest {

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"../x.safetensors", "/abs.safetensors", "a/b.safetensors", "a\\\\b.safetensors",
            "..", "", "C:x.safetensors"})
    void refusesShardNamesOutsideTheDirectory(String shard) throws IOException {
        Path p = dir.resolve("model.safetensors.index.json");
        Files.writeString(p, "{\"metadata\": {\"total_size\": 4}, \"weight_map\": {\"ok\": \"model.safetensors\", \"evil.weight\": \""
                + shard + "\"}}");
        assertThatThrownBy(() -> SafetensorsIndex.readWeightMap(p)).isInstanceOfSatisfying(AmalgamException.class, e -> {
            assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
            assertThat(e.where().file()).isEqualTo(p.toString());
            assertThat(e.where().tensor()).isEqualTo("evil.weight");
        });
    }

    @Test
    void readsTheWeightMapInFileOrder() throws IOException {
        Path p = dir.resolve("i.json");
        Files.writeString(p, "{\"weight_map\": {\"z\": \"b.safetensors\", \"a\": \"a.safetensors\"}, \"extra\": 1}");
        assertThat(SafetensorsIndex.readWeightMap(p).keySet()).containsExactly("z", "a");
    }

    @Test
    void malformedIndexFiles() throws IOException {
        Path p = dir.resolve("i.json");
        for (String text : List.of("{", "[]", "{\"metadata\": {}}", "{\"weight_map\": {\"a\": 3}}",
                "{\"weight_map\": {\"a\": \"x\", \"a\": \"y\"}}")) {
            Files.writeString(p, text);
            assertThatThrownBy(() -> SafetensorsIndex.readWeightMap(p)).as(text)
                    .isInstanceOfSatisfying(AmalgamException.class,
                            e -> assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT));
        }
        assertThatThrownBy(() -> SafetensorsIndex.readWeightMap(dir.resolve("absent.json")))
                .isInstanceOfSatisfying(AmalgamException.class,
                        e -> assertThat(e.kind()).isEqualTo(AmalgamException.Kind.IO));
    }

    @Test
    void contentThatIsNotUtf8IsBadInputNotAReadError() throws IOException {
        Path p = dir.resolve("i.json");
        // zero bytes first: Jackson would guess UTF-32 and fail with an IOException
        Files.write(p, new byte[] {0, 0, 0, '{', '"', 'w', '"', ':', '1', '}'});
        assertThatThrownBy(() -> SafetensorsIndex.readWeightMap(p)).isInstanceOfSatisfying(AmalgamException.class, e -> {
            assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
            assertThat(e.where().file()).isEqualTo(p.toString());
        });
        Files.write(p, new byte[] {'{', '"', (byte) 0xFF, '"', ':', '1', '}'});
        assertThatThrownBy(() -> SafetensorsIndex.readWeightMap(p)).isInstanceOfSatisfying(AmalgamException.class, e -> {
            assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
            assertThat(e.getMessage()).contains("not valid UTF-8");
        });
    }

    @Test
    void writesMergekitsLayout() throws IOException {
        Path p = dir.resolve("model.safetensors.index.json");
        Map<String, String> wm = new LinkedHashMap<>();
        wm.put("lm_head.weight", "model-00001-of-00002.safetensors");
        wm.put("model.embed_tokens.weight", "model-00002-of-00002.safetensors");
        SafetensorsIndex.write(p, 414848, wm, Map.of("mergekit_version", "0.1.4"));
        assertThat(Files.readString(p)).isEqualTo("""
                {
                  "metadata": {
                    "total_size": 414848,
                    "mergekit_version": "0.1.4"
                  },
                  "weight_map": {
                    "lm_head.weight": "model-00001-of-00002.safetensors",
                    "model.embed_tokens.weight": "model-00002-of-00002.safetensors"
                  }
                }""");
        assertThat(SafetensorsIndex.readWeightMap(p)).isEqualTo(wm);
        assertThatThrownBy(() -> SafetensorsIndex.write(p, 0, wm, Map.of())).isInstanceOf(AmalgamException.class);
    }
}
