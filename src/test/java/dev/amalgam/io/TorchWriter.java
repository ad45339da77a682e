package dev.amalgam.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * Writes PyTorch checkpoints byte for byte as {@code torch.save(state_dict, f)} does, for tests
 * (there is no Python here): the pickle stream of an OrderedDict of tensors (protocol 2 by default;
 * each tensor a {@code torch._utils._rebuild_tensor_v2} call whose storage is the persistent id
 * {@code ('storage', torch.FloatStorage, '0', 'cpu', numel)}, with the pickler's memo), zipped the
 * way torch's stream writer zips it: STORED entries under one folder, each data start padded to 64
 * bytes with an {@code FB} extra field, {@code data.pkl} first, then {@code byteorder}, the storages
 * {@code data/<key>}, {@code version} and {@code .data/serialization_id}.
 */
public final class TorchWriter {

    private TorchWriter() {
    }

    /** The bytes of one storage, {@code data/<key>} in the archive. */
    public record Storage(String key, DType dtype, byte[] bytes) {
        public long numel() {
            return bytes.length / dtype.byteSize();
        }
    }

    /** A tensor of the state dict: a view of a storage. */
    public record View(String name, Storage storage, long offset, long[] shape, long[] stride) {
        public static View contiguous(String name, Storage s, long offset, long... shape) {
            long[] stride = new long[shape.length];
            long acc = 1;
            for (int i = shape.length - 1; i >= 0; i--) {
                stride[i] = acc;
                acc *= shape[i];
            }
            return new View(name, s, offset, shape, stride);
        }
    }

    /** How to write; {@link #TORCH} is what torch.save does. */
    public record Options(int protocol, String archive, boolean nestUnderStateDict, boolean parameters,
                          boolean zip64, boolean deflatePickle, boolean deflateStorages, String byteorder) {
        public static final Options TORCH = new Options(2, "archive", false, false, false, false, false, "little");

        public Options withProtocol(int p) {
            return new Options(p, archive, nestUnderStateDict, parameters, zip64, deflatePickle, deflateStorages, byteorder);
        }

        public Options withArchive(String a) {
            return new Options(protocol, a, nestUnderStateDict, parameters, zip64, deflatePickle, deflateStorages, byteorder);
        }

        public Options nested() {
            return new Options(protocol, archive, true, parameters, zip64, deflatePickle, deflateStorages, byteorder);
        }

        public Options asParameters() {
            return new Options(protocol, archive, nestUnderStateDict, true, zip64, deflatePickle, deflateStorages, byteorder);
        }

        public Options withZip64() {
            return new Options(protocol, archive, nestUnderStateDict, parameters, true, deflatePickle, deflateStorages, byteorder);
        }

        public Options deflatingPickle() {
            return new Options(protocol, archive, nestUnderStateDict, parameters, zip64, true, deflateStorages, byteorder);
        }

        public Options deflatingStorages() {
            return new Options(protocol, archive, nestUnderStateDict, parameters, zip64, deflatePickle, true, byteorder);
        }

        public Options withByteorder(String b) {
            return new Options(protocol, archive, nestUnderStateDict, parameters, zip64, deflatePickle, deflateStorages, b);
        }
    }

    // ------------------------------------------------------------------------------ whole files

    /** Writes {@code views} as a checkpoint at {@code file}, as torch.save would. */
    public static void save(Path file, List<View> views) throws IOException {
        save(file, views, Options.TORCH);
    }

    public static void save(Path file, List<View> views, Options o) throws IOException {
        Files.write(file, checkpoint(views, o));
    }

    /** The checkpoint's bytes. */
    public static byte[] checkpoint(List<View> views, Options o) {
        return archive(o, statePickle(views, o), storages(views));
    }

    /** The distinct storages of {@code views}, in key order (torch sorts them). */
    public static Map<String, Storage> storages(List<View> views) {
        Map<String, Storage> out = new TreeMap<>();
        for (View v : views) {
            out.putIfAbsent(v.storage().key(), v.storage());
        }
        return out;
    }

    /** A torch-like zip: {@code data.pkl}, {@code byteorder}, {@code data/<key>}, {@code version}. */
    public static byte[] archive(Options o, byte[] dataPkl, Map<String, Storage> storages) {
        Zip z = new Zip(o.zip64());
        z.add(o.archive() + "/data.pkl", dataPkl, o.deflatePickle());
        if (o.byteorder() != null) {
            z.add(o.archive() + "/byteorder", o.byteorder().getBytes(StandardCharsets.US_ASCII), false);
        }
        for (Storage s : storages.values()) {
            z.add(o.archive() + "/data/" + s.key(), s.bytes(), o.deflateStorages());
        }
        z.add(o.archive() + "/version", "3\n".getBytes(StandardCharsets.US_ASCII), false);
        z.add(o.archive() + "/.data/serialization_id", "1234567890123456789012345678901234567890".getBytes(StandardCharsets.US_ASCII), false);
        return z.finish();
    }

    /**
     * Converts a safetensors model directory into a PyTorch one: every file but the safetensors
     * shards and their index is copied; the tensors go to {@code pytorch_model.bin}, or to
     * {@code shards} files {@code pytorch_model-0000i-of-0000n.bin} with a
     * {@code pytorch_model.bin.index.json}. Each tensor gets its own storage.
     */
    public static void convertModel(Path from, Path to, int shards) throws IOException {
        Files.createDirectories(to);
        List<Path> files;
        try (Stream<Path> s = Files.list(from)) {
            files = s.sorted().toList();
        }
        Map<String, byte[]> data = new TreeMap<>();
        Map<String, TensorInfo> infos = new HashMap<>();
        for (Path f : files) {
            String n = f.getFileName().toString();
            if (n.endsWith(".safetensors")) {
                try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                    for (TensorInfo t : sf.tensors()) {
                        data.put(t.name(), sf.data(t).toArray(ValueLayout.JAVA_BYTE));
                        infos.put(t.name(), t);
                    }
                }
            } else if (!n.equals("model.safetensors.index.json") && Files.isRegularFile(f)) {
                Files.copy(f, to.resolve(n));
            }
        }
        List<String> names = new ArrayList<>(data.keySet());
        int per = (names.size() + shards - 1) / shards;
        Map<String, String> weightMap = new LinkedHashMap<>();
        long total = 0;
        for (int s = 0; s < shards; s++) {
            List<View> views = new ArrayList<>();
            int key = 0;
            for (String n : names.subList(Math.min(names.size(), s * per), Math.min(names.size(), (s + 1) * per))) {
                TensorInfo t = infos.get(n);
                views.add(View.contiguous(n, new Storage(Integer.toString(key++), t.dtype(), data.get(n)), 0, t.shape()));
                total += data.get(n).length;
            }
            String file = shards == 1 ? "pytorch_model.bin"
                    : String.format(Locale.ROOT, "pytorch_model-%05d-of-%05d.bin", s + 1, shards);
            save(to.resolve(file), views);
            for (View v : views) {
                weightMap.put(v.name(), file);
            }
        }
        if (shards > 1) {
            SafetensorsIndex.write(to.resolve("pytorch_model.bin.index.json"), total, weightMap, Map.of());
        }
    }

    // ------------------------------------------------------------------------------ the pickle

    /** The {@code data.pkl} torch.save writes for an OrderedDict of {@code views}. */
    public static byte[] statePickle(List<View> views, Options o) {
        Pickler p = new Pickler(o.protocol());
        p.proto();
        if (o.nestUnderStateDict()) {
            // {'epoch': 3, 'state_dict': OrderedDict(...)}
            p.emptyDict();
            p.put();
            p.mark();
            p.str("epoch");
            p.integer(3);
            p.str("state_dict");
        }
        p.global("collections", "OrderedDict");
        p.emptyTuple();
        p.reduce();
        p.put();
        int n = 0;
        for (View v : views) {
            if (n % 1000 == 0) {
                if (n > 0) {
                    p.op(PickleOps.SETITEMS);
                }
                p.mark();
            }
            p.str(v.name());
            tensor(p, v, o);
            n++;
        }
        if (n > 0) {
            p.op(PickleOps.SETITEMS);
        }
        // state: {'_metadata': OrderedDict({'': {'version': 1}})}
        p.emptyDict();
        p.put();
        p.str("_metadata");
        p.global("collections", "OrderedDict");
        p.emptyTuple();
        p.reduce();
        p.put();
        p.str("");
        p.emptyDict();
        p.put();
        p.str("version");
        p.integer(1);
        p.op(PickleOps.SETITEM);
        p.op(PickleOps.SETITEM);
        p.op(PickleOps.SETITEM);
        p.op(PickleOps.BUILD);
        if (o.nestUnderStateDict()) {
            p.op(PickleOps.SETITEMS);
        }
        p.op(PickleOps.STOP);
        return p.bytes();
    }

    private static void tensor(Pickler p, View v, Options o) {
        if (o.parameters()) {
            p.global("torch._utils", "_rebuild_parameter");
            p.mark();
        }
        p.global("torch._utils", "_rebuild_tensor_v2");
        p.mark();
        // the persistent id ('storage', torch.FloatStorage, key, 'cpu', numel)
        p.mark();
        p.str("storage");
        p.global("torch", storageClass(v.storage().dtype()));
        p.str(v.storage().key());
        p.str("cpu");
        p.integer(v.storage().numel());
        p.op(PickleOps.TUPLE);
        p.put();
        p.op(PickleOps.BINPERSID);
        p.integer(v.offset());
        p.tuple(v.shape());
        p.tuple(v.stride());
        p.op(PickleOps.NEWFALSE);
        p.global("collections", "OrderedDict");
        p.emptyTuple();
        p.reduce();
        p.put();
        p.op(PickleOps.TUPLE);
        p.put();
        p.reduce();
        p.put();
        if (o.parameters()) {
            p.op(PickleOps.NEWTRUE);
            p.global("collections", "OrderedDict");
            p.emptyTuple();
            p.reduce();
            p.put();
            p.op(PickleOps.TUPLE);
            p.put();
            p.reduce();
            p.put();
        }
    }

    static String storageClass(DType d) {
        return switch (d) {
            case F32 -> "FloatStorage";
            case F16 -> "HalfStorage";
            case BF16 -> "BFloat16Storage";
            case F64 -> "DoubleStorage";
            case I64 -> "LongStorage";
            case I32 -> "IntStorage";
            case I16 -> "ShortStorage";
            case I8 -> "CharStorage";
            case U8 -> "ByteStorage";
            case BOOL -> "BoolStorage";
            default -> throw new IllegalArgumentException("torch has no typed storage for " + d);
        };
    }

    /** Opcode bytes, for tests that hand-craft streams. */
    public static final class PickleOps {
        public static final int MARK = '(';
        public static final int STOP = '.';
        public static final int BININT = 'J';
        public static final int BININT1 = 'K';
        public static final int BININT2 = 'M';
        public static final int NONE = 'N';
        public static final int BINPERSID = 'Q';
        public static final int REDUCE = 'R';
        public static final int BINUNICODE = 'X';
        public static final int APPEND = 'a';
        public static final int BUILD = 'b';
        public static final int GLOBAL = 'c';
        public static final int EMPTY_DICT = '}';
        public static final int APPENDS = 'e';
        public static final int BINGET = 'h';
        public static final int LONG_BINGET = 'j';
        public static final int EMPTY_LIST = ']';
        public static final int BINPUT = 'q';
        public static final int LONG_BINPUT = 'r';
        public static final int SETITEM = 's';
        public static final int TUPLE = 't';
        public static final int EMPTY_TUPLE = ')';
        public static final int SETITEMS = 'u';
        public static final int BINFLOAT = 'G';
        public static final int PROTO = 0x80;
        public static final int TUPLE1 = 0x85;
        public static final int TUPLE2 = 0x86;
        public static final int TUPLE3 = 0x87;
        public static final int NEWTRUE = 0x88;
        public static final int NEWFALSE = 0x89;
        public static final int LONG1 = 0x8a;
        public static final int SHORT_BINUNICODE = 0x8c;
        public static final int STACK_GLOBAL = 0x93;
        public static final int MEMOIZE = 0x94;
        public static final int FRAME = 0x95;

        private PickleOps() {
        }
    }

    /**
     * A pickler for the values a state dict holds, memoizing as CPython's does: every string,
     * global and non-empty tuple is stored in the memo when first written; a string or global
     * written again is fetched with BINGET. Protocol 4 adds FRAME, SHORT_BINUNICODE, MEMOIZE and
     * STACK_GLOBAL.
     */
    public static final class Pickler {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final int protocol;
        private final Map<String, Integer> memoStrings = new HashMap<>();
        private int memoSize;

        public Pickler(int protocol) {
            this.protocol = protocol;
        }

        public Pickler op(int op) {
            out.write(op);
            return this;
        }

        public Pickler raw(byte... b) {
            out.writeBytes(b);
            return this;
        }

        public Pickler proto() {
            op(PickleOps.PROTO).op(protocol);
            if (protocol >= 4) {
                // one frame for the rest; its length is patched in bytes()
                op(PickleOps.FRAME).raw(new byte[8]);
            }
            return this;
        }

        public Pickler mark() {
            return op(PickleOps.MARK);
        }

        public Pickler emptyDict() {
            return op(PickleOps.EMPTY_DICT);
        }

        public Pickler emptyTuple() {
            return op(PickleOps.EMPTY_TUPLE);
        }

        public Pickler reduce() {
            return op(PickleOps.REDUCE);
        }

        /** Memoizes the top of the stack. */
        public Pickler put() {
            int i = memoSize++;
            if (protocol >= 4) {
                return op(PickleOps.MEMOIZE);
            }
            if (i < 256) {
                return op(PickleOps.BINPUT).op(i);
            }
            op(PickleOps.LONG_BINPUT);
            return raw(le32(i));
        }

        public Pickler get(int i) {
            if (i < 256) {
                return op(PickleOps.BINGET).op(i);
            }
            op(PickleOps.LONG_BINGET);
            return raw(le32(i));
        }

        public Pickler str(String s) {
            Integer m = memoStrings.get(s);
            if (m != null) {
                return get(m);
            }
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            if (protocol >= 4 && b.length < 256) {
                op(PickleOps.SHORT_BINUNICODE).op(b.length);
            } else {
                op(PickleOps.BINUNICODE).raw(le32(b.length));
            }
            raw(b);
            memoStrings.put(s, memoSize);
            return put();
        }

        public Pickler global(String module, String name) {
            String key = "\0global\0" + module + "\0" + name;
            Integer m = memoStrings.get(key);
            if (m != null) {
                return get(m);
            }
            if (protocol >= 4) {
                str(module);
                str(name);
                op(PickleOps.STACK_GLOBAL);
            } else {
                op(PickleOps.GLOBAL).raw((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
            }
            memoStrings.put(key, memoSize);
            return put();
        }

        /** Python's save_long: BININT1, BININT2, BININT, else LONG1. */
        public Pickler integer(long v) {
            if (v >= 0 && v <= 0xFF) {
                return op(PickleOps.BININT1).op((int) v);
            }
            if (v >= 0 && v <= 0xFFFF) {
                return op(PickleOps.BININT2).op((int) (v & 0xFF)).op((int) (v >>> 8));
            }
            if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
                return op(PickleOps.BININT).raw(le32((int) v));
            }
            byte[] le = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
            int n = 8;
            while (n > 1 && ((le[n - 1] == 0 && le[n - 2] >= 0) || (le[n - 1] == -1 && le[n - 2] < 0))) {
                n--;
            }
            op(PickleOps.LONG1).op(n);
            for (int i = 0; i < n; i++) {
                out.write(le[i]);
            }
            return this;
        }

        /** A tuple of ints: EMPTY_TUPLE, TUPLE1..3, or MARK ... TUPLE; memoized unless empty. */
        public Pickler tuple(long[] items) {
            if (items.length == 0) {
                return emptyTuple();
            }
            if (items.length > 3) {
                mark();
            }
            for (long v : items) {
                integer(v);
            }
            op(switch (items.length) {
                case 1 -> PickleOps.TUPLE1;
                case 2 -> PickleOps.TUPLE2;
                case 3 -> PickleOps.TUPLE3;
                default -> PickleOps.TUPLE;
            });
            return put();
        }

        public byte[] bytes() {
            byte[] b = out.toByteArray();
            if (protocol >= 4) {
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(3, b.length - 11);
            }
            return b;
        }
    }

    static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    // ------------------------------------------------------------------------------ the zip

    /** A zip writer with torch's 64-byte data alignment; ZIP64 records on request. */
    static final class Zip {
        private record Written(String name, int method, long crc, long csize, long size, long offset) {
        }

        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final boolean zip64;
        private final List<Written> entries = new ArrayList<>();

        Zip(boolean zip64) {
            this.zip64 = zip64;
        }

        void add(String name, byte[] data, boolean deflate) {
            byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
            CRC32 crc = new CRC32();
            crc.update(data);
            byte[] stored = data;
            int method = 0;
            if (deflate) {
                Deflater d = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
                d.setInput(data);
                d.finish();
                ByteArrayOutputStream c = new ByteArrayOutputStream();
                byte[] buf = new byte[4096];
                while (!d.finished()) {
                    c.write(buf, 0, d.deflate(buf));
                }
                d.end();
                stored = c.toByteArray();
                method = 8;
            }
            long offset = out.size();
            // FB padding so the data starts on a 64-byte boundary
            long start = offset + 30 + nameBytes.length + 4;
            int pad = (int) ((64 - start % 64) % 64);
            ByteBuffer h = ByteBuffer.allocate(30).order(ByteOrder.LITTLE_ENDIAN);
            h.putInt(0x04034b50).putShort((short) 20).putShort((short) 0).putShort((short) method)
                    .putShort((short) 0).putShort((short) 0x21).putInt((int) crc.getValue())
                    .putInt(stored.length).putInt(data.length)
                    .putShort((short) nameBytes.length).putShort((short) (4 + pad));
            out.writeBytes(h.array());
            out.writeBytes(nameBytes);
            out.writeBytes(new byte[] {'F', 'B', (byte) pad, 0});
            byte[] z = new byte[pad];
            java.util.Arrays.fill(z, (byte) 'Z');
            out.writeBytes(z);
            out.writeBytes(stored);
            entries.add(new Written(name, method, crc.getValue(), stored.length, data.length, offset));
        }

        byte[] finish() {
            long cdStart = out.size();
            for (Written e : entries) {
                byte[] nameBytes = e.name().getBytes(StandardCharsets.UTF_8);
                byte[] extra = zip64
                        ? ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 1).putShort((short) 24)
                        .putLong(e.size()).putLong(e.csize()).putLong(e.offset()).array()
                        : new byte[0];
                ByteBuffer c = ByteBuffer.allocate(46).order(ByteOrder.LITTLE_ENDIAN);
                c.putInt(0x02014b50).putShort((short) (zip64 ? 45 : 20)).putShort((short) (zip64 ? 45 : 20))
                        .putShort((short) 0).putShort((short) e.method()).putShort((short) 0).putShort((short) 0x21)
                        .putInt((int) e.crc())
                        .putInt(zip64 ? -1 : (int) e.csize()).putInt(zip64 ? -1 : (int) e.size())
                        .putShort((short) nameBytes.length).putShort((short) extra.length).putShort((short) 0)
                        .putShort((short) 0).putShort((short) 0).putInt(0).putInt(zip64 ? -1 : (int) e.offset());
                out.writeBytes(c.array());
                out.writeBytes(nameBytes);
                out.writeBytes(extra);
            }
            long cdSize = out.size() - cdStart;
            if (zip64) {
                long z64 = out.size();
                ByteBuffer r = ByteBuffer.allocate(56).order(ByteOrder.LITTLE_ENDIAN);
                r.putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
                        .putLong(entries.size()).putLong(entries.size()).putLong(cdSize).putLong(cdStart);
                out.writeBytes(r.array());
                ByteBuffer l = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
                l.putInt(0x07064b50).putInt(0).putLong(z64).putInt(1);
                out.writeBytes(l.array());
            }
            ByteBuffer eocd = ByteBuffer.allocate(22).order(ByteOrder.LITTLE_ENDIAN);
            eocd.putInt(0x06054b50).putShort((short) 0).putShort((short) 0)
                    .putShort((short) (zip64 ? -1 : entries.size())).putShort((short) (zip64 ? -1 : entries.size()))
                    .putInt(zip64 ? -1 : (int) cdSize).putInt(zip64 ? -1 : (int) cdStart).putShort((short) 0);
            out.writeBytes(eocd.array());
            return out.toByteArray();
        }
    }
}
