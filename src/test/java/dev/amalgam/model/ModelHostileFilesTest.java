package dev.amalgam.model;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.io.SafetensorsIndex;
import dev.amalgam.io.TorchWriter;
import dev.amalgam.synth.Synth;
import dev.amalgam.synth.SynthSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Hostile model directories: index files naming shards outside the directory (by {@code ..},
 * absolute paths or links), missing shards, and indexes that disagree with their shards. Each is
 * refused by {@link Model#open} with the kind and location of the fault.
 */
class ModelHostileFilesTest {

    @TempDir
    Path tmp;

    private Path model;
    private static final String INDEX = "model.safetensors.index.json";
    private static final String SHARD1 = "model-00001-of-00002.safetensors";
    private static final String SHARD2 = "model-00002-of-00002.safetensors";

    @BeforeEach
    void sharded() {
        model = tmp.resolve("model");
        Synth.write(SynthSpec.tiny("LlamaForCausalLM").withShards(2).withSeed(1), model);
    }

    private Map<String, String> weightMap() {
        return new LinkedHashMap<>(SafetensorsIndex.readWeightMap(model.resolve(INDEX)));
    }

    private void rewriteIndex(Map<String, String> wm) throws IOException {
        Files.delete(model.resolve(INDEX));
        SafetensorsIndex.write(model.resolve(INDEX), 0, wm, Map.of());
    }

    private String firstTensorOf(String shard) {
        return weightMap().entrySet().stream().filter(e -> e.getValue().equals(shard)).findFirst().orElseThrow().getKey();
    }

    private AmalgamException refuse(Path dir) {
        try (Model m = Model.open(dir, "model")) {
            throw new AssertionError("expected a refusal, opened " + m.tensors().size() + " tensors");
        } catch (AmalgamException e) {
            assertThat(e.hint()).isNotBlank();
            return e;
        }
    }

    @Test
    void theUntouchedModelOpens() {
        try (Model m = Model.open(model, "model")) {
            assertThat(m.shards()).hasSize(2);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"../outside.safetensors", "/etc/passwd", "sub/../../x.safetensors", "..", "C:evil"})
    void shardNamesLeavingTheDirectory(String shard) throws IOException {
        Map<String, String> wm = weightMap();
        String victim = wm.keySet().iterator().next();
        wm.put(victim, shard);
        rewriteIndex(wm);
        AmalgamException e = refuse(model);
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
        assertThat(e.where().file()).isEqualTo(model.resolve(INDEX).toString());
        assertThat(e.where().tensor()).isEqualTo(victim);
        assertThat(e.getMessage()).contains("names shard '" + shard + "'");
    }

    @Test
    void shardThatIsALinkOutsideTheDirectory() throws IOException {
        Path outside = tmp.resolve("elsewhere");
        Files.createDirectories(outside);
        Files.move(model.resolve(SHARD2), outside.resolve(SHARD2));
        Files.createSymbolicLink(model.resolve(SHARD2), outside.resolve(SHARD2));
        AmalgamException e = refuse(model);
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
        assertThat(e.getMessage()).contains(SHARD2 + " resolves to " + outside.toRealPath().resolve(SHARD2))
                .contains("outside the model directory");
        assertThat(e.where().file()).isEqualTo(model.resolve(INDEX).toString());
        assertThat(e.where().tensor()).isEqualTo(firstTensorOf(SHARD2));
        // a relative link climbing out is the same
        Files.delete(model.resolve(SHARD2));
        Files.createSymbolicLink(model.resolve(SHARD2), Path.of("../elsewhere/" + SHARD2));
        assertThat(refuse(model).getMessage()).contains("outside the model directory");
    }

    @Test
    void linksWithinTheDirectoryAreFine() throws IOException {
        Files.createDirectories(model.resolve("blobs"));
        Files.move(model.resolve(SHARD2), model.resolve("blobs/abc123"));
        Files.createSymbolicLink(model.resolve(SHARD2), Path.of("blobs/abc123"));
        try (Model m = Model.open(model, "model")) {
            assertThat(m.shards()).hasSize(2);
        }
    }

    @Test
    void aLinkedModelDirectoryIsFine() throws IOException {
        Path link = tmp.resolve("link-to-model");
        Files.createSymbolicLink(link, model);
        try (Model m = Model.open(link, "model")) {
            assertThat(m.shards()).hasSize(2);
        }
    }

    @Test
    void huggingFaceCacheSnapshotsMayLinkIntoTheirBlobs() throws IOException {
        Path repo = tmp.resolve("hub/models--org--name");
        Path snap = repo.resolve("snapshots/0123abcd");
        Path blobs = repo.resolve("blobs");
        Files.createDirectories(snap);
        Files.createDirectories(blobs);
        try (var files = Files.list(model)) {
            for (Path f : files.toList()) {
                Path blob = blobs.resolve("sha-" + f.getFileName());
                Files.copy(f, blob);
                Files.createSymbolicLink(snap.resolve(f.getFileName()), Path.of("../../blobs/" + blob.getFileName()));
            }
        }
        try (Model m = Model.open(snap, "org/name")) {
            assertThat(m.shards()).hasSize(2);
        }
        // but not outside the repository
        Path stray = tmp.resolve("stray.safetensors");
        Files.move(blobs.resolve("sha-" + SHARD1), stray);
        Files.delete(snap.resolve(SHARD1));
        Files.createSymbolicLink(snap.resolve(SHARD1), stray);
        assertThat(refuse(snap).getMessage()).contains("outside the model directory");
    }

    @Test
    void singleFileAndConfigLinkedFromOutside() throws IOException {
        Path single = tmp.resolve("single");
        Synth.write(SynthSpec.tiny("LlamaForCausalLM").withSeed(2), single);
        Path outside = tmp.resolve("outside");
        Files.createDirectories(outside);
        Files.move(single.resolve("model.safetensors"), outside.resolve("model.safetensors"));
        Files.createSymbolicLink(single.resolve("model.safetensors"), outside.resolve("model.safetensors"));
        AmalgamException e = refuse(single);
        assertThat(e.where().file()).isEqualTo(single.resolve("model.safetensors").toString());
        assertThat(e.getMessage()).contains("outside the model directory");
        Files.delete(single.resolve("model.safetensors"));
        Files.move(outside.resolve("model.safetensors"), single.resolve("model.safetensors"));
        Files.move(single.resolve("config.json"), outside.resolve("config.json"));
        Files.createSymbolicLink(single.resolve("config.json"), outside.resolve("config.json"));
        AmalgamException c = refuse(single);
        assertThat(c.where().file()).isEqualTo(single.resolve("config.json").toString());
        assertThat(c.getMessage()).contains("outside the model directory");
    }

    @Test
    void tensorsMappedToAMissingShard() throws IOException {
        Map<String, String> wm = weightMap();
        String victim = wm.keySet().iterator().next();
        wm.put(victim, "model-00003-of-00002.safetensors");
        rewriteIndex(wm);
        AmalgamException e = refuse(model);
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
        assertThat(e.where().file()).isEqualTo(model.resolve(INDEX).toString());
        assertThat(e.where().tensor()).isEqualTo(victim);
        assertThat(e.getMessage()).contains("shard model-00003-of-00002.safetensors listed in the index (for tensor "
                + victim + " and others) is missing");
        assertThat(e.hint()).contains("incomplete");
    }

    @Test
    void shardDeletedOrBrokenLink() throws IOException {
        String victim = firstTensorOf(SHARD2);
        Files.delete(model.resolve(SHARD2));
        AmalgamException e = refuse(model);
        assertThat(e.where().tensor()).isEqualTo(victim);
        assertThat(e.getMessage()).contains("is missing");
        Files.createSymbolicLink(model.resolve(SHARD2), Path.of("nowhere.safetensors"));
        assertThat(refuse(model).getMessage()).contains("is a link to a missing file");
    }

    @Test
    void shardLacksATensorTheIndexMapsToIt() throws IOException {
        Map<String, String> wm = weightMap();
        String moved = firstTensorOf(SHARD1);
        wm.put(moved, SHARD2);
        rewriteIndex(wm);
        AmalgamException e = refuse(model);
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.MISSING_TENSOR);
        assertThat(e.where().file()).isEqualTo(model.resolve(INDEX).toString());
        assertThat(e.where().tensor()).isEqualTo(moved);
        assertThat(e.getMessage()).contains("the index maps " + moved + " to " + SHARD2 + ", which does not contain it");
    }

    @Test
    void indexInventsATensor() throws IOException {
        Map<String, String> wm = weightMap();
        wm.put("model.layers.99.invented.weight", SHARD1);
        rewriteIndex(wm);
        AmalgamException e = refuse(model);
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.MISSING_TENSOR);
        assertThat(e.where().tensor()).isEqualTo("model.layers.99.invented.weight");
    }

    @Test
    void shardHoldsATensorTheIndexDoesNotList() throws IOException {
        Map<String, String> wm = weightMap();
        String dropped = firstTensorOf(SHARD2);
        wm.remove(dropped);
        rewriteIndex(wm);
        AmalgamException e = refuse(model);
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
        assertThat(e.where().tensor()).isEqualTo(dropped);
        assertThat(e.getMessage()).contains("is in " + SHARD2 + " but not in the index");
    }

    @Test
    void pytorchIndexWithAnEscapingShardName() throws IOException {
        Path bin = tmp.resolve("bin");
        TorchWriter.convertModel(model, bin, 2);
        Map<String, String> wm = new LinkedHashMap<>(SafetensorsIndex.readWeightMap(bin.resolve("pytorch_model.bin.index.json")));
        String victim = wm.keySet().iterator().next();
        wm.put(victim, "../model/" + SHARD1);
        Files.delete(bin.resolve("pytorch_model.bin.index.json"));
        SafetensorsIndex.write(bin.resolve("pytorch_model.bin.index.json"), 0, wm, Map.of());
        AmalgamException e = refuse(bin);
        assertThat(e.where().tensor()).isEqualTo(victim);
        assertThat(e.getMessage()).contains("is a path, not a file name");
    }

    @Test
    void pytorchShardLinkedFromOutside() throws IOException {
        Path bin = tmp.resolve("bin");
        TorchWriter.convertModel(model, bin, 2);
        String shard = "pytorch_model-00002-of-00002.bin";
        Files.move(bin.resolve(shard), tmp.resolve(shard));
        Files.createSymbolicLink(bin.resolve(shard), tmp.resolve(shard));
        assertThat(refuse(bin).getMessage()).contains("outside the model directory");
    }

    @Test
    void noModelFilesAtAll() throws IOException {
        Files.delete(model.resolve(INDEX));
        Files.delete(model.resolve(SHARD1));
        Files.delete(model.resolve(SHARD2));
        AmalgamException e = refuse(model);
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT);
        assertThat(e.getMessage()).contains("no model files");
        assertThat(e.hint()).contains("pytorch_model.bin");
        assertThatThrownBy(() -> Model.open(tmp.resolve("absent"), "absent")).isInstanceOf(AmalgamException.class);
    }
}
