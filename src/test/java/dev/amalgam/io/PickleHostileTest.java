package dev.amalgam.io;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.io.TorchWriter.Options;
import dev.amalgam.io.TorchWriter.Pickler;
import dev.amalgam.io.TorchWriter.Storage;
import dev.amalgam.io.TorchWriter.View;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Hostile and broken pickle streams inside otherwise valid torch zip checkpoints: one case per
 * failure mode of {@link PickleReader}, each refused as INPUT with the file, the byte offset and a
 * hint, never executed and never an unchecked exception.
 */
class PickleHostileTest {

    @TempDir
    Path dir;

    private static final Storage S = new Storage("0", DType.F32, new byte[16]);

    /** Wraps {@code pkl} in a torch zip with one storage and opens it, expecting a refusal. */
    private AmalgamException refuse(byte[] pkl) throws IOException {
        Path p = dir.resolve("pytorch_model.bin");
        Files.write(p, TorchWriter.archive(Options.TORCH, pkl, Map.of("0", S)));
        return refuseFile(p);
    }

    static AmalgamException refuseFile(Path p) {
        try (TorchCheckpoint ck = TorchCheckpoint.open(p)) {
            fail("expected a refusal, opened " + ck);
            return null;
        } catch (AmalgamException e) {
            assertThat(e.kind()).as(e.render()).isEqualTo(AmalgamException.Kind.INPUT);
            assertThat(e.where().file()).isEqualTo(p.toString());
            assertThat(e.hint()).isNotBlank();
            return e;
        }
    }

    /** File offset of data.pkl's first byte in archives written by {@link TorchWriter#archive}. */
    private static long pickleStart() {
        // local header (30) + "archive/data.pkl" (16) + FB field, padded to 64
        return 64;
    }

    private static Pickler p2() {
        return new Pickler(2).proto();
    }

    @Test
    void osSystemIsRefusedAndNothingRuns() throws IOException {
        Path marker = dir.resolve("pwned");
        // os.system('touch <marker>'): GLOBAL 'os\nsystem\n', the argument, TUPLE1, REDUCE
        byte[] pkl = p2().op('c').raw("os\nsystem\n".getBytes(StandardCharsets.US_ASCII)).put()
                .str("touch " + marker).op(0x85).op('R').op('.').bytes();
        AmalgamException e = refuse(pkl);
        assertThat(e.getMessage()).contains("refusing global 'os.system'").contains("at byte 2 of archive/data.pkl");
        assertThat(e.where().offset()).isEqualTo(pickleStart() + 2);
        assertThat(e.hint()).isEqualTo("this checkpoint contains code, not only tensors; Amalgam never executes it"
                + " \u2014 convert it to safetensors from a trusted source");
        assertThat(e.render()).contains("pytorch_model.bin, byte 66");
        assertThat(marker).doesNotExist();
    }

    @ParameterizedTest
    @ValueSource(strings = {"posix system", "nt system", "builtins eval", "builtins exec", "__builtin__ eval",
            "builtins getattr", "subprocess Popen", "subprocess check_output", "torch.storage _load_from_bytes",
            "torch load", "torch._utils _rebuild_tensor", "torch._utils _rebuild_device_tensor_from_numpy",
            "numpy.core.multiarray _reconstruct", "_codecs encode", "functools partial", "collections defaultdict",
            "torch Tensor", "torch UntypedStorage", "torch.nn.modules.linear Linear", "webbrowser open",
            "runpy _run_code", "pickle loads", "torch._utils _rebuild_parameter_with_state"})
    void globalsOutsideTheAllowlistAreRefusedWhenNamed(String global) throws IOException {
        String[] mn = global.split(" ");
        byte[] viaGlobal = p2().op('c').raw((mn[0] + "\n" + mn[1] + "\n").getBytes(StandardCharsets.US_ASCII))
                .op(')').op('R').op('.').bytes();
        AmalgamException e = refuse(viaGlobal);
        assertThat(e.getMessage()).contains("refusing global '" + mn[0] + "." + mn[1] + "'");
        assertThat(e.where().offset()).isEqualTo(pickleStart() + 2);
        assertThat(e.hint()).contains("never executes it");

        byte[] viaStackGlobal = new Pickler(4).proto().str(mn[0]).str(mn[1]).op(0x93).op(')').op('R').op('.').bytes();
        AmalgamException s = refuse(viaStackGlobal);
        assertThat(s.getMessage()).contains("refusing global '" + mn[0] + "." + mn[1] + "'");
    }

    @Test
    void aStorageClassIsNotCallable() throws IOException {
        AmalgamException e = refuse(p2().global("torch", "FloatStorage").op(')').op('R').op('.').bytes());
        assertThat(e.getMessage()).contains("torch.FloatStorage, which is a storage class");
    }

    @Test
    void reduceOfSomethingThatIsNotAGlobal() throws IOException {
        AmalgamException e = refuse(p2().str("os.system").op(')').op('R').op('.').bytes());
        assertThat(e.getMessage()).contains("REDUCE calls a str");
    }

    @Test
    void buildMayOnlySetAnOrderedDictsAttributes() throws IOException {
        // a state dict whose tensor gets its __dict__ set by BUILD
        Pickler p = p2().global("collections", "OrderedDict").op(')').op('R').op('(').str("w");
        tensorArgs(p);
        p.op('R').op('}').str("__class__").str("x").op('s').op('b').op('u').op('.');
        AmalgamException e = refuse(p.bytes());
        assertThat(e.getMessage()).contains("BUILD on a tensor");
    }

    /** {@code _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 4), 0, (4,), (1,), False, OrderedDict())}. */
    private static void tensorArgs(Pickler p) {
        p.global("torch._utils", "_rebuild_tensor_v2").op('(').op('(').str("storage").global("torch", "FloatStorage")
                .str("0").str("cpu").integer(4).op('t').op('Q').integer(0).tuple(new long[] {4}).tuple(new long[] {1})
                .op(0x89).global("collections", "OrderedDict").op(')').op('R').op('t');
    }

    @Test
    void persistentIdsOtherThanTorchStorages() throws IOException {
        AmalgamException a = refuse(p2().str("storage").op('Q').op('.').bytes());
        assertThat(a.getMessage()).contains("persistent id is a str");
        AmalgamException b = refuse(p2().op('(').str("storage").str("FloatStorage").str("0").str("cpu").integer(4)
                .op('t').op('Q').op('.').bytes());
        assertThat(b.getMessage()).contains("storage type a str");
        AmalgamException c = refuse(p2().op('(').str("module").global("torch", "FloatStorage").str("0").str("cpu")
                .integer(4).op('t').op('Q').op('.').bytes());
        assertThat(c.getMessage()).contains("persistent id is a tuple of 5");
    }

    @Test
    void rebuildTensorWithWrongArguments() throws IOException {
        AmalgamException a = refuse(p2().global("torch._utils", "_rebuild_tensor_v2").op('(').str("x").op('t')
                .op('R').op('.').bytes());
        assertThat(a.getMessage()).contains("called with 1 arguments");
        AmalgamException b = refuse(p2().global("torch._utils", "_rebuild_tensor_v2").op('(').str("x").integer(0)
                .op(')').op(')').op(0x89).op('}').op('t').op('R').op('.').bytes());
        assertThat(b.getMessage()).contains("storage is a str");
        Pickler p = p2().global("torch._utils", "_rebuild_tensor_v2").op('(').op('(').str("storage")
                .global("torch", "FloatStorage").str("0").str("cpu").integer(4).op('t').op('Q').integer(0)
                .tuple(new long[] {2, 2}).tuple(new long[] {1}).op(0x89).op('}').op('t').op('R').op('.');
        assertThat(refuse(p.bytes()).getMessage()).contains("size has 2 dimensions but stride has 1");
    }

    @ParameterizedTest
    @CsvSource({"i,INST", "o,OBJ", "0,POP", "2,DUP", "g,GET", "p,PUT", "S,STRING", "C,SHORT_BINBYTES",
            "l,LIST", "d,DICT", "I,INT", "V,UNICODE", "P,PERSID"})
    void unsupportedOpcodes(char op, String name) throws IOException {
        AmalgamException e = refuse(p2().op('N').op(op).op('.').bytes());
        assertThat(e.getMessage()).contains("unsupported pickle opcode").contains("(" + name + ")").contains("at byte 3");
        assertThat(e.where().offset()).isEqualTo(pickleStart() + 3);
    }

    @ParameterizedTest
    @ValueSource(ints = {0x81, 0x82, 0x83, 0x84, 0x8b, 0x8e, 0x8f, 0x90, 0x91, 0x92, 0x96, 0x97, 0x98, 0x00, 0xff})
    void unsupportedHighOpcodes(int op) throws IOException {
        AmalgamException e = refuse(p2().op('N').op(op).op('.').bytes());
        assertThat(e.getMessage()).contains(String.format(java.util.Locale.ROOT, "unsupported pickle opcode 0x%02x", op));
    }

    @Test
    void everyTruncationOfAValidStreamIsRefused() throws IOException {
        List<View> views = List.of(View.contiguous("a", S, 0, 2, 2), View.contiguous("b", S, 1, 3));
        byte[] good = TorchWriter.statePickle(views, Options.TORCH);
        for (int n = 0; n < good.length; n++) {
            AmalgamException e = refuse(Arrays.copyOf(good, n));
            assertThat(e.getMessage()).as("cut at %d", n).containsAnyOf("ends inside", "without a STOP");
        }
    }

    @Test
    void recursionBombOfNestedMarks() throws IOException {
        byte[] pkl = new byte[2 + 100_000];
        pkl[0] = (byte) 0x80;
        pkl[1] = 2;
        Arrays.fill(pkl, 2, pkl.length, (byte) '(');
        AmalgamException e = refuse(pkl);
        assertThat(e.getMessage()).contains("more than 10000 nested MARKs");
        assertThat(e.hint()).contains("recursion bomb");
    }

    @Test
    void recursionBombOfNestedListsFillsTheStack() throws IOException {
        byte[] pkl = new byte[2 + 2_000_000];
        pkl[0] = (byte) 0x80;
        pkl[1] = 2;
        Arrays.fill(pkl, 2, pkl.length, (byte) ']');
        AmalgamException e = refuse(pkl);
        assertThat(e.getMessage()).contains("more than 1000000 values on the pickle stack");
    }

    @Test
    void tuplesNestedAMillionDeepAreHarmless() throws IOException {
        // TUPLE1 wraps the top of the stack: the stack stays one deep while the nesting grows,
        // and nothing walks the result recursively
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(new byte[] {(byte) 0x80, 2, 'N'});
        for (int i = 0; i < 1_000_000; i++) {
            b.write(0x85);
        }
        b.write('.');
        AmalgamException e = refuse(b.toByteArray());
        assertThat(e.getMessage()).contains("the pickled object is a tuple of 1, not a state dict");
        // and the same deep value inside a state dict next to a real tensor is ignored
        Pickler p = p2().global("collections", "OrderedDict").op(')').op('R').op('(').str("w");
        tensorArgs(p);
        p.op('R').str("deep").op('N');
        for (int i = 0; i < 1_000_000; i++) {
            p.op(0x85);
        }
        p.op('u').op('.');
        Path f = dir.resolve("deep.bin");
        Files.write(f, TorchWriter.archive(Options.TORCH, p.bytes(), Map.of("0", S)));
        try (TorchCheckpoint ck = TorchCheckpoint.open(f)) {
            assertThat(ck.tensors()).extracting(TensorInfo::name).containsExactly("w");
        }
    }

    @Test
    void memoBomb() throws IOException {
        int n = PickleReader.MAX_MEMO + 1;
        byte[] pkl = new byte[3 + 5 * n + 1];
        pkl[0] = (byte) 0x80;
        pkl[1] = 2;
        pkl[2] = 'N';
        for (int i = 0; i < n; i++) {
            int at = 3 + 5 * i;
            pkl[at] = 'r';
            pkl[at + 1] = (byte) i;
            pkl[at + 2] = (byte) (i >>> 8);
            pkl[at + 3] = (byte) (i >>> 16);
            pkl[at + 4] = (byte) (i >>> 24);
        }
        pkl[pkl.length - 1] = '.';
        AmalgamException e = refuse(pkl);
        assertThat(e.getMessage()).contains("more than 4194304 memo entries");
        assertThat(e.hint()).contains("memo bomb");
        assertThat(e.where().offset()).isEqualTo(pickleStart() + 3 + 5L * PickleReader.MAX_MEMO);
    }

    @Test
    void objectCountBomb() throws IOException {
        // d[0] = None, again and again: the dict stays small but every opcode builds an object
        int n = (int) (PickleReader.MAX_OBJECTS / 2) + 1;
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(new byte[] {(byte) 0x80, 2, '}'});
        byte[] unit = {'K', 0, 'N', 's'};
        for (int i = 0; i < n; i++) {
            b.writeBytes(unit);
        }
        b.write('.');
        AmalgamException e = refuse(b.toByteArray());
        assertThat(e.getMessage()).contains("more than 10000000 objects");
    }

    @Test
    void hugeStringLengths() throws IOException {
        AmalgamException a = refuse(p2().op('X').raw(TorchWriter.le32(-1)).op('.').bytes());
        assertThat(a.getMessage()).contains("string of 4294967295 bytes exceeds the limit");
        AmalgamException b = refuse(p2().op(0x8d).raw(new byte[] {0, 0, 0, 0, 0, 1, 0, 0}).op('.').bytes());
        assertThat(b.getMessage()).contains("string of 1099511627776 bytes exceeds the limit");
        AmalgamException c = refuse(p2().op(0x8d).raw(new byte[] {-1, -1, -1, -1, -1, -1, -1, -1}).op('.').bytes());
        assertThat(c.getMessage()).contains("string of 18446744073709551615 bytes");
        AmalgamException d = refuse(p2().op('X').raw(TorchWriter.le32(100)).raw("short".getBytes(StandardCharsets.US_ASCII))
                .bytes());
        assertThat(d.getMessage()).contains("ends inside an opcode");
        AmalgamException f = refuse(p2().op(0x95).raw(new byte[] {-1, -1, -1, -1, -1, -1, -1, 127}).op('N').op('.').bytes());
        assertThat(f.getMessage()).contains("FRAME of");
    }

    @Test
    void malformedStreams() throws IOException {
        record Case(byte[] pkl, String message) {
        }
        List<Case> cases = List.of(
                new Case(p2().op('X').raw(TorchWriter.le32(2)).raw(new byte[] {(byte) 0xC3, 0x28}).op('.').bytes(), "not valid UTF-8"),
                new Case(new byte[] {(byte) 0x80, 6, 'N', '.'}, "unsupported pickle protocol 6"),
                new Case(new byte[] {(byte) 0x80, 1, 'N', '.'}, "unsupported pickle protocol 1"),
                new Case(p2().op('h').op(7).op('.').bytes(), "memo entry 7 is read before it is written"),
                new Case(p2().op('j').raw(TorchWriter.le32(-1)).op('.').bytes(), "memo entry 4294967295 is read before"),
                new Case(p2().op('q').op(0).op('.').bytes(), "memo store needs a value"),
                new Case(p2().op('.').bytes(), "stack is empty"),
                new Case(p2().op('(').op('.').bytes(), "stack is empty"),
                new Case(p2().op('N').op('(').op('R').op('.').bytes(), "stack is empty"),
                new Case(p2().op('t').op('.').bytes(), "needs a MARK"),
                new Case(p2().op('}').op('(').op('N').op('u').op('.').bytes(), "odd number of items"),
                new Case(p2().op('}').op('N').op('a').op('.').bytes(), "APPEND on a dict"),
                new Case(p2().op(']').op('N').op('N').op('s').op('.').bytes(), "SETITEM on a list"),
                new Case(p2().op(')').op('(').op('e').op('.').bytes(), "APPENDS on a tuple of 0"),
                new Case(p2().op('}').op(']').op('N').op('s').op('.').bytes(), "dict key is a list"),
                new Case(p2().op('}').op('N').op(0x85).op('N').op('s').op('.').bytes(), "dict key is a tuple of 1"),
                new Case(p2().op('N').op('N').op(0x93).op('.').bytes(), "STACK_GLOBAL needs two strings"),
                new Case(p2().op('c').raw("os\u0001\nsystem\n".getBytes(StandardCharsets.ISO_8859_1)).bytes(), "GLOBAL name holds byte 0x01"),
                new Case(p2().op('c').raw(("x".repeat(300) + "\n").getBytes(StandardCharsets.US_ASCII)).bytes(), "GLOBAL name longer"),
                new Case(p2().global("collections", "OrderedDict").op('N').op(0x85).op('R').op('.').bytes(),
                        "OrderedDict called with 1 arguments"),
                new Case(p2().global("collections", "OrderedDict").op('N').op('R').op('.').bytes(), "None arguments, not a tuple"),
                new Case(p2().global("torch._utils", "_rebuild_parameter").op('N').op(0x85).op('R').op('.').bytes(),
                        "_rebuild_parameter needs (tensor, requires_grad, hooks)"),
                new Case(p2().op(']').op('.').bytes(), "the pickled object is a list, not a state dict"),
                new Case(p2().op('}').integer(3).op('N').op('s').op('.').bytes(), "holds no tensors"));
        for (Case c : cases) {
            AmalgamException e = refuse(c.pkl());
            assertThat(e.getMessage()).as(c.message()).contains(c.message());
        }
    }

    @Test
    void aTensorKeyedByANumber() throws IOException {
        Pickler p = p2().op('}').op('(').integer(7);
        tensorArgs(p);
        p.op('R').op('u').op('.');
        AmalgamException e = refuse(p.bytes());
        assertThat(e.getMessage()).contains("a tensor is keyed by an int, not a name");
        assertThat(e.where().offset()).isPositive();
    }
}
