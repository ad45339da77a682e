package dev.amalgam.io;

import dev.amalgam.io.TorchWriter.Options;
import dev.amalgam.io.TorchWriter.Storage;
import dev.amalgam.io.TorchWriter.View;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The test writer emits what CPython's pickler emits for torch.save's reduce protocol: its
 * {@code data.pkl} is compared byte for byte with streams written by CPython
 * ({@code src/test/resources/torch/make_cpython_pickles.py}), and the reader reads both.
 */
class TorchWriterTest {

    static List<View> cpythonStateDict() {
        Storage f32 = new Storage("0", DType.F32, new byte[6 * 4]);
        Storage f16 = new Storage("1", DType.F16, new byte[12 * 2]);
        Storage bf16 = new Storage("2", DType.BF16, new byte[40 * 2]);
        Storage i64 = new Storage("3", DType.I64, new byte[5 * 8]);
        Storage big = new Storage("4", DType.F32, new byte[20 * 4]);
        return List.of(
                View.contiguous("model.w32", f32, 0, 2, 3),
                View.contiguous("model.w16", f16, 0, 3, 4),
                View.contiguous("model.wbf16", bf16, 0, 2, 4, 5),
                View.contiguous("model.ids", i64, 0, 5),
                View.contiguous("model.tied", f32, 0, 2, 3),
                View.contiguous("model.offset_view", big, 7, 3, 4),
                View.contiguous("model.deep", bf16, 0, 1, 2, 4, 5));
    }

    static byte[] resource(String name) throws IOException {
        try (InputStream in = TorchWriterTest.class.getResourceAsStream("/torch/" + name)) {
            return in.readAllBytes();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void writerMatchesCPythonsPickler(int protocol) throws IOException {
        byte[] cpython = resource("cpython-p" + protocol + ".pkl");
        byte[] ours = TorchWriter.statePickle(cpythonStateDict(), Options.TORCH.withProtocol(protocol));
        assertThat(ours).isEqualTo(cpython);
        Object read = PickleReader.read(cpython, Path.of("cpython.pkl"), "data.pkl");
        assertThat(read).isInstanceOf(java.util.LinkedHashMap.class);
        assertThat(((java.util.Map<?, ?>) read).keySet().stream().map(String::valueOf).toList()).containsExactly("model.w32", "model.w16", "model.wbf16",
                "model.ids", "model.tied", "model.offset_view", "model.deep");
        PickleReader.TensorRef t = (PickleReader.TensorRef) ((java.util.Map<?, ?>) read).get("model.offset_view");
        assertThat(t.offset()).isEqualTo(7);
        assertThat(t.shape()).containsExactly(3L, 4L);
        assertThat(t.storage()).isEqualTo(new PickleReader.StorageRef(DType.F32, "4", "cpu", 20));
    }
}
