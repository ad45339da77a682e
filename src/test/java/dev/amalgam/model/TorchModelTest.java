package dev.amalgam.model;

import dev.amalgam.cli.Main;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.io.DType;
import dev.amalgam.io.TensorInfo;
import dev.amalgam.io.TorchCheckpoint;
import dev.amalgam.io.TorchWriter;
import dev.amalgam.synth.Synth;
import dev.amalgam.synth.SynthSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * PyTorch {@code pytorch_model.bin} models (single and sharded) open as the same tensors as their
 * safetensors originals and merge to byte-identical output through the real CLI.
 */
class TorchModelTest {

    @TempDir
    Path tmp;

    private Path synth(String name, SynthSpec spec) {
        Path d = tmp.resolve(name);
        Synth.write(spec, d);
        return d;
    }

    private Path toBin(Path from, int shards) throws IOException {
        Path to = tmp.resolve(from.getFileName() + "-bin" + shards);
        TorchWriter.convertModel(from, to, shards);
        return to;
    }

    private static void assertSameTensors(Path a, Path b) {
        try (Model x = Model.open(a, "a"); Model y = Model.open(b, "b")) {
            assertThat(y.tensors().keySet()).containsExactlyElementsOf(x.tensors().keySet());
            for (String n : x.tensors().keySet()) {
                TensorInfo ix = x.tensor(n).info();
                TensorInfo iy = y.tensor(n).info();
                assertThat(iy.dtype()).as(n).isEqualTo(ix.dtype());
                assertThat(iy.shape()).as(n).isEqualTo(ix.shape());
                assertThat(y.tensor(n).data().toArray(ValueLayout.JAVA_BYTE)).as(n)
                        .isEqualTo(x.tensor(n).data().toArray(ValueLayout.JAVA_BYTE));
            }
            assertThat(y.dataBytes()).isEqualTo(x.dataBytes());
            assertThat(y.config()).isEqualTo(x.config());
        }
    }

    /** Dropping a tensor's pages from the mapping (the executor does it behind each tensor) keeps its values. */
    @Test
    void releasedTensorsReadTheSameAfterwardsFromSafetensorsAndBinFiles() throws IOException {
        Path st = synth("r", SynthSpec.tiny("MistralForCausalLM").withDtype(DType.BF16).withSeed(4));
        for (Path dir : List.of(st, toBin(st, 2))) {
            try (Model m = Model.open(dir, "r")) {
                for (TensorHandle h : m.tensors().values()) {
                    int n = (int) Math.min(4096, h.info().byteSize() / h.info().dtype().byteSize());
                    float[] before = new float[n];
                    float[] after = new float[n];
                    h.read(0, n, before, 0);
                    h.release();
                    h.read(0, n, after, 0);
                    assertThat(after).as(dir.getFileName() + " " + h.info().name()).isEqualTo(before);
                }
            }
        }
    }

    @Test
    void singleBinOpensAsTheSafetensorsOriginal() throws IOException {
        Path st = synth("m", SynthSpec.tiny("MistralForCausalLM").withDtype(DType.BF16).withSeed(3));
        Path bin = toBin(st, 1);
        assertThat(bin.resolve("pytorch_model.bin")).exists();
        assertSameTensors(st, bin);
        try (Model m = Model.open(bin, "bin")) {
            assertThat(m.shards()).singleElement().isInstanceOf(TorchCheckpoint.class);
        }
    }

    @Test
    void shardedBinWithIndexOpensAsTheSafetensorsOriginal() throws IOException {
        Path st = synth("q", SynthSpec.tiny("Qwen2ForCausalLM").withDtype(DType.F32).withShards(2).withSeed(4));
        Path bin = toBin(st, 3);
        assertThat(bin.resolve("pytorch_model.bin.index.json")).exists();
        assertThat(bin.resolve("pytorch_model-00003-of-00003.bin")).exists();
        assertSameTensors(st, bin);
        try (Model m = Model.open(bin, "bin")) {
            assertThat(m.shards()).hasSize(3);
        }
    }

    @Test
    void safetensorsWinsOverBinWhenBothArePresent() throws IOException {
        Path st = synth("both", SynthSpec.tiny("LlamaForCausalLM").withSeed(5));
        Path other = synth("other", SynthSpec.tiny("LlamaForCausalLM").withSeed(6));
        Path otherBin = toBin(other, 1);
        Files.copy(otherBin.resolve("pytorch_model.bin"), st.resolve("pytorch_model.bin"));
        assertSameTensors(st, st);
        try (Model m = Model.open(st, "both"); Model o = Model.open(other, "other")) {
            String n = "model.embed_tokens.weight";
            assertThat(m.tensor(n).data().toArray(ValueLayout.JAVA_BYTE))
                    .isNotEqualTo(o.tensor(n).data().toArray(ValueLayout.JAVA_BYTE));
        }
    }

    private static int cli(StringWriter err, String... args) {
        return Main.run(new PrintWriter(new StringWriter()), new PrintWriter(err), args);
    }

    private int merge(Path base, Path a, Path b, Path out) throws IOException {
        String recipe = "merge_method: ties\nbase_model: " + base + "\nmodels:\n  - model: " + a
                + "\n    parameters:\n      density: 0.5\n      weight: 0.6\n  - model: " + b
                + "\n    parameters:\n      density: 0.7\n      weight: [0.2, 0.8]\nparameters:\n  normalize: true\n"
                + "dtype: bfloat16\n";
        Path file = tmp.resolve(out.getFileName() + ".yml");
        Files.writeString(file, recipe);
        StringWriter err = new StringWriter();
        int code = cli(err, "merge", file.toString(), out.toString(), "--quiet");
        assertThat(code).as(err.toString()).isZero();
        return code;
    }

    @Test
    void mergingBinModelsGivesByteIdenticalOutputToTheSafetensorsMerge() throws IOException {
        Path base = synth("base", SynthSpec.tiny("MistralForCausalLM").withDtype(DType.F16).withSeed(11));
        Path a = synth("a", SynthSpec.derived(base, 0.01, 12));
        Path b = synth("b", SynthSpec.derived(base, 0.01, 13).withShards(2));
        Path outSt = tmp.resolve("out-st");
        merge(base, a, b, outSt);
        Path outBin = tmp.resolve("out-bin");
        merge(toBin(base, 1), toBin(a, 2), toBin(b, 1), outBin);
        List<String> files;
        try (Stream<Path> s = Files.list(outSt)) {
            files = s.map(p -> p.getFileName().toString()).sorted().toList();
        }
        try (Stream<Path> s = Files.list(outBin)) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted().toList()).isEqualTo(files);
        }
        assertThat(files).contains("model.safetensors", "config.json");
        for (String f : files) {
            if (f.endsWith(".safetensors") || f.endsWith(".json")) {
                assertThat(Files.readAllBytes(outBin.resolve(f))).as(f).isEqualTo(Files.readAllBytes(outSt.resolve(f)));
            }
        }
    }

    @Test
    void aHostileBinIsRefusedBeforeAnythingRunsOrIsWritten() throws IOException {
        Path base = synth("base", SynthSpec.tiny("LlamaForCausalLM").withSeed(21));
        Path good = toBin(base, 1);
        Path evil = tmp.resolve("evil");
        Files.createDirectories(evil);
        Files.copy(base.resolve("config.json"), evil.resolve("config.json"));
        Path marker = tmp.resolve("pwned");
        byte[] pkl = new TorchWriter.Pickler(2).proto().op('c').raw("posix\nsystem\n".getBytes(StandardCharsets.US_ASCII))
                .put().str("touch " + marker).op(0x85).op('R').op('.').bytes();
        Files.write(evil.resolve("pytorch_model.bin"), TorchWriter.archive(TorchWriter.Options.TORCH, pkl, Map.of()));

        Path file = tmp.resolve("r.yml");
        Files.writeString(file, "merge_method: linear\nmodels:\n  - model: " + good + "\n    parameters: {weight: 1}\n"
                + "  - model: " + evil + "\n    parameters: {weight: 1}\n");
        StringWriter err = new StringWriter();
        int code = cli(err, "merge", file.toString(), tmp.resolve("out").toString(), "--quiet");
        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains("refusing global 'posix.system'", "pytorch_model.bin, byte 66",
                "never executes it");
        assertThat(marker).doesNotExist();
        assertThat(tmp.resolve("out")).doesNotExist();

        assertThatThrownBy(() -> Model.open(evil, "evil")).isInstanceOfSatisfying(AmalgamException.class,
                e -> assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INPUT));
        assertThat(marker).doesNotExist();
    }
}
