package dev.amalgam.io;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A restricted reader of Python pickle streams, just enough for the {@code data.pkl} of a PyTorch
 * state dict: the I/O stage's unpickler. It never executes anything and never looks a name up in
 * any runtime: each opcode builds plain Java objects ({@link String}, {@link Long},
 * {@link BigInteger}, {@link Double}, {@link Boolean}, null for {@code None}, {@link ArrayList}
 * for lists, {@link LinkedHashMap} for dicts and OrderedDicts, {@link Tuple} for tuples), and the
 * only callables are the torch tensor-rebuild functions, which produce {@link TensorRef} records
 * describing where a tensor's bytes lie.
 *
 * <p>Opcodes understood (protocols 2 to 5, as {@code torch.save} writes them): {@code PROTO FRAME
 * STOP MARK EMPTY_DICT EMPTY_LIST EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 APPEND APPENDS SETITEM
 * SETITEMS BINUNICODE SHORT_BINUNICODE BINUNICODE8 BININT BININT1 BININT2 LONG1 BINFLOAT NONE NEWTRUE
 * NEWFALSE BINPUT LONG_BINPUT MEMOIZE BINGET LONG_BINGET GLOBAL STACK_GLOBAL REDUCE BUILD
 * BINPERSID}. Every other opcode is refused.
 *
 * <p>Globals are checked against an allowlist when they are named, before anything could use
 * them: {@code collections.OrderedDict}, {@code torch._utils._rebuild_tensor_v2},
 * {@code torch._utils._rebuild_parameter} and the ten typed storage classes
 * ({@code torch.FloatStorage}, ...). Anything else ({@code os.system}, {@code builtins.eval},
 * {@code torch.storage._load_from_bytes}, ...) is refused with an {@link AmalgamException} of kind
 * INPUT naming the file, the byte offset of the opcode and the global.
 *
 * <p>Limits guard against hostile streams: value stack, MARK depth, memo entries, string length
 * and the total number of objects built; each has its own message. The reader is iterative, and
 * nothing downstream walks the object graph recursively.
 */
public final class PickleReader {

    /** Most values on the stack at once. */
    public static final int MAX_STACK = 1_000_000;
    /** Most open MARKs at once (the nesting depth of tuples, lists and dicts being built). */
    public static final int MAX_MARKS = 10_000;
    /** Most memo entries. */
    public static final int MAX_MEMO = 4_194_304;
    /** Longest string, in UTF-8 bytes. */
    public static final int MAX_STRING_BYTES = 16 << 20;
    /** Most objects built from one stream. */
    public static final long MAX_OBJECTS = 10_000_000L;
    /** Longest GLOBAL line (module or name). */
    static final int MAX_GLOBAL_LINE = 256;

    static final String CODE_HINT = "this checkpoint contains code, not only tensors; Amalgam never executes it"
            + " \u2014 convert it to safetensors from a trusted source";

    // opcodes, by their byte
    private static final int MARK = '(';
    private static final int STOP = '.';
    private static final int BININT = 'J';
    private static final int BININT1 = 'K';
    private static final int BININT2 = 'M';
    private static final int NONE = 'N';
    private static final int BINPERSID = 'Q';
    private static final int REDUCE = 'R';
    private static final int BINUNICODE = 'X';
    private static final int APPEND = 'a';
    private static final int BUILD = 'b';
    private static final int GLOBAL = 'c';
    private static final int EMPTY_DICT = '}';
    private static final int APPENDS = 'e';
    private static final int BINGET = 'h';
    private static final int LONG_BINGET = 'j';
    private static final int EMPTY_LIST = ']';
    private static final int BINPUT = 'q';
    private static final int LONG_BINPUT = 'r';
    private static final int SETITEM = 's';
    private static final int TUPLE = 't';
    private static final int EMPTY_TUPLE = ')';
    private static final int SETITEMS = 'u';
    private static final int BINFLOAT = 'G';
    private static final int PROTO = 0x80;
    private static final int TUPLE1 = 0x85;
    private static final int TUPLE2 = 0x86;
    private static final int TUPLE3 = 0x87;
    private static final int NEWTRUE = 0x88;
    private static final int NEWFALSE = 0x89;
    private static final int LONG1 = 0x8a;
    private static final int SHORT_BINUNICODE = 0x8c;
    private static final int BINUNICODE8 = 0x8d;
    private static final int STACK_GLOBAL = 0x93;
    private static final int MEMOIZE = 0x94;
    private static final int FRAME = 0x95;

    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64_BE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    /** The typed storage classes torch pickles, by class name, with their element type. */
    static final Map<String, DType> STORAGE_TYPES = Map.ofEntries(
            Map.entry("FloatStorage", DType.F32),
            Map.entry("HalfStorage", DType.F16),
            Map.entry("BFloat16Storage", DType.BF16),
            Map.entry("DoubleStorage", DType.F64),
            Map.entry("LongStorage", DType.I64),
            Map.entry("IntStorage", DType.I32),
            Map.entry("ShortStorage", DType.I16),
            Map.entry("CharStorage", DType.I8),
            Map.entry("ByteStorage", DType.U8),
            Map.entry("BoolStorage", DType.BOOL));

    private static final Set<String> CALLABLES = Set.of(
            "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter");

    /** A Python tuple: an immutable list of values (which may be null for {@code None}). */
    public record Tuple(List<Object> items) {
        public Tuple {
            items = Collections.unmodifiableList(Arrays.asList(items.toArray()));
        }

        public int size() {
            return items.size();
        }

        public Object get(int i) {
            return items.get(i);
        }
    }

    /** An allowlisted global: {@code module.name}. */
    public record Global(String module, String name) {
        public String qualified() {
            return module + "." + name;
        }
    }

    /**
     * A storage named by a persistent id {@code ('storage', torch.XStorage, key, location, numel)}:
     * the zip entry {@code data/<key>} holding {@code numel} elements of {@code dtype}.
     */
    public record StorageRef(DType dtype, String key, String location, long numel) {
    }

    /**
     * A tensor rebuilt by {@code _rebuild_tensor_v2(storage, offset, size, stride, ...)}: a view of
     * {@code storage} starting {@code offset} elements in.
     *
     * @param at byte offset in the stream of the REDUCE that built it
     */
    public record TensorRef(StorageRef storage, long offset, long[] shape, long[] stride, long at) {
        public TensorRef {
            shape = shape.clone();
            stride = stride.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        @Override
        public long[] stride() {
            return stride.clone();
        }
    }

    private final MemorySegment in;
    private final long length;
    private final Path file;
    private final String streamName;
    private final long base;
    private long pos;
    private long opAt;
    private final ArrayList<Object> stack = new ArrayList<>();
    private int[] marks = new int[16];
    private int markDepth;
    private final HashMap<Long, Object> memo = new HashMap<>();
    private long objects;

    private PickleReader(MemorySegment in, Path file, String streamName, long base) {
        this.in = in;
        this.length = in.byteSize();
        this.file = file;
        this.streamName = streamName;
        this.base = base;
    }

    /**
     * Reads one pickled object from {@code in}.
     *
     * @param file       the file the stream came from, for messages
     * @param streamName the stream's name inside that file (such as {@code archive/data.pkl})
     * @param base       byte offset of the stream in {@code file}, or -1 when it is not stored
     *                   verbatim there (then messages give offsets inside the stream only)
     * @throws AmalgamException INPUT for anything outside the supported subset, a limit exceeded or
     *                          a malformed stream
     */
    public static Object read(MemorySegment in, Path file, String streamName, long base) {
        return new PickleReader(in, file, streamName, base).run();
    }

    /** Reads one pickled object from {@code bytes}; see {@link #read(MemorySegment, Path, String, long)}. */
    public static Object read(byte[] bytes, Path file, String streamName) {
        return read(MemorySegment.ofArray(bytes), file, streamName, -1);
    }

    private Object run() {
        while (true) {
            if (pos >= length) {
                throw error(String.format(Locale.ROOT, "the pickle stream ends at byte %d without a STOP opcode", length),
                        "the file is truncated or corrupt; download it again");
            }
            opAt = pos;
            int op = u8();
            switch (op) {
                case PROTO -> {
                    // u8 protocol
                    int v = u8();
                    if (v < 2 || v > 5) {
                        throw error("unsupported pickle protocol " + v, "torch.save writes protocol 2; 2 to 5 are read");
                    }
                }
                case FRAME -> {
                    // u64 frame_length
                    long n = i64();
                    if (n < 0 || n > length - pos) {
                        throw error("FRAME of " + Long.toUnsignedString(n) + " bytes runs past the end of the stream",
                                "the file is truncated or corrupt");
                    }
                }
                case STOP -> {
                    return pop();
                }
                case MARK -> pushMark();
                case EMPTY_DICT -> push(new LinkedHashMap<>());
                case EMPTY_LIST -> push(new ArrayList<>());
                case EMPTY_TUPLE -> push(new Tuple(List.of()));
                case TUPLE -> push(new Tuple(popToMark()));
                case TUPLE1 -> push(new Tuple(popN(1)));
                case TUPLE2 -> push(new Tuple(popN(2)));
                case TUPLE3 -> push(new Tuple(popN(3)));
                case APPEND -> {
                    Object v = pop();
                    listBelow("APPEND").add(v);
                }
                case APPENDS -> {
                    List<Object> items = popToMark();
                    listBelow("APPENDS").addAll(items);
                }
                case SETITEM -> {
                    Object v = pop();
                    Object k = pop();
                    putItem(dictBelow("SETITEM"), k, v);
                }
                case SETITEMS -> {
                    List<Object> items = popToMark();
                    if (items.size() % 2 != 0) {
                        throw error("SETITEMS with an odd number of items (" + items.size() + ")",
                                "the pickle stream is corrupt");
                    }
                    Map<Object, Object> d = dictBelow("SETITEMS");
                    for (int i = 0; i < items.size(); i += 2) {
                        putItem(d, items.get(i), items.get(i + 1));
                    }
                }
                case BINUNICODE -> push(string(u32()));
                case SHORT_BINUNICODE -> push(string(u8()));
                case BINUNICODE8 -> push(string(i64()));
                case BININT -> push((long) i32());
                case BININT1 -> push((long) u8());
                case BININT2 -> push((long) u16());
                case LONG1 -> push(long1());
                case BINFLOAT -> {
                    need(8);
                    push(Double.longBitsToDouble(in.get(I64_BE, pos)));
                    pos += 8;
                }
                case NONE -> push(null);
                case NEWTRUE -> push(Boolean.TRUE);
                case NEWFALSE -> push(Boolean.FALSE);
                case BINPUT -> memoPut(u8());
                case LONG_BINPUT -> memoPut(u32());
                case MEMOIZE -> memoPut(memo.size());
                case BINGET -> memoGet(u8());
                case LONG_BINGET -> memoGet(u32());
                case GLOBAL -> {
                    // module '\n' name '\n'
                    String module = line();
                    String name = line();
                    push(global(module, name));
                }
                case STACK_GLOBAL -> {
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw error("STACK_GLOBAL needs two strings, got " + typeName(module) + " and " + typeName(name),
                                "the pickle stream is corrupt");
                    }
                    push(global(m, n));
                }
                case REDUCE -> {
                    Object args = pop();
                    Object callable = pop();
                    push(reduce(callable, args));
                }
                case BUILD -> {
                    Object state = pop();
                    Object target = peek("BUILD");
                    if (!(target instanceof Map)) {
                        throw error("BUILD on " + typeName(target) + " (state " + typeName(state)
                                + "); only an OrderedDict's attributes may be set", CODE_HINT);
                    }
                }
                case BINPERSID -> push(persistentId(pop()));
                default -> throw error(String.format(Locale.ROOT, "unsupported pickle opcode 0x%02x%s", op, opName(op)),
                        "only the opcodes of a plain torch state dict are read; " + CODE_HINT);
            }
        }
    }

    // ---- primitives

    private void need(long n) {
        if (n < 0 || n > length - pos) {
            throw error(String.format(Locale.ROOT, "the pickle stream ends inside an opcode (needs %s more bytes at byte %d, has %d)",
                            Long.toUnsignedString(n), pos, length - pos),
                    "the file is truncated or corrupt; download it again");
        }
    }

    private int u8() {
        need(1);
        return in.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF;
    }

    private int u16() {
        return u8() | (u8() << 8);
    }

    private int i32() {
        need(4);
        int v = in.get(I32_LE, pos);
        pos += 4;
        return v;
    }

    private long u32() {
        return i32() & 0xFFFF_FFFFL;
    }

    private long i64() {
        need(8);
        long v = in.get(I64_LE, pos);
        pos += 8;
        return v;
    }

    private Object long1() {
        // u8 n, n bytes two's complement little-endian
        int n = u8();
        need(n);
        if (n == 0) {
            return 0L;
        }
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) {
            be[n - 1 - i] = in.get(ValueLayout.JAVA_BYTE, pos + i);
        }
        pos += n;
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private String string(long n) {
        if (n < 0 || n > MAX_STRING_BYTES) {
            throw error(String.format(Locale.ROOT, "string of %s bytes exceeds the limit of %d bytes",
                    Long.toUnsignedString(n), MAX_STRING_BYTES), "a state dict holds only short names; the file is hostile or corrupt");
        }
        need(n);
        byte[] b = in.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE);
        pos += n;
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw error("string is not valid UTF-8", "the pickle stream is corrupt");
        }
    }

    private String line() {
        StringBuilder sb = new StringBuilder();
        while (true) {
            int c = u8();
            if (c == '\n') {
                return sb.toString();
            }
            if (c < 0x20 || c > 0x7e) {
                throw error(String.format(Locale.ROOT, "GLOBAL name holds byte 0x%02x", c),
                        "the pickle stream is corrupt");
            }
            if (sb.length() >= MAX_GLOBAL_LINE) {
                throw error("GLOBAL name longer than " + MAX_GLOBAL_LINE + " characters", "the pickle stream is corrupt");
            }
            sb.append((char) c);
        }
    }

    // ---- stack, marks, memo

    private void push(Object o) {
        if (stack.size() >= MAX_STACK) {
            throw error("more than " + MAX_STACK + " values on the pickle stack",
                    "a state dict needs a few thousand at most; the file is hostile or corrupt");
        }
        if (++objects > MAX_OBJECTS) {
            throw error("more than " + MAX_OBJECTS + " objects in the pickle stream",
                    "the file is hostile or corrupt");
        }
        stack.add(o);
    }

    private Object pop() {
        if (stack.isEmpty() || (markDepth > 0 && stack.size() <= marks[markDepth - 1])) {
            throw error("opcode needs a value but the stack is empty", "the pickle stream is corrupt");
        }
        return stack.removeLast();
    }

    private Object peek(String what) {
        if (stack.isEmpty() || (markDepth > 0 && stack.size() <= marks[markDepth - 1])) {
            throw error(what + " needs a value below it but the stack is empty", "the pickle stream is corrupt");
        }
        return stack.getLast();
    }

    private List<Object> popN(int n) {
        Object[] items = new Object[n];
        for (int i = n - 1; i >= 0; i--) {
            items[i] = pop();
        }
        return Arrays.asList(items);
    }

    private void pushMark() {
        if (markDepth >= MAX_MARKS) {
            throw error("more than " + MAX_MARKS + " nested MARKs",
                    "a state dict nests a few levels deep; the file is hostile (a recursion bomb) or corrupt");
        }
        if (markDepth == marks.length) {
            marks = Arrays.copyOf(marks, marks.length * 2);
        }
        marks[markDepth++] = stack.size();
    }

    private List<Object> popToMark() {
        if (markDepth == 0) {
            throw error("opcode needs a MARK but none is open", "the pickle stream is corrupt");
        }
        int from = marks[--markDepth];
        List<Object> tail = stack.subList(from, stack.size());
        List<Object> items = new ArrayList<>(tail);
        tail.clear();
        return items;
    }

    private void memoPut(long index) {
        Object top = peek("memo store");
        if (memo.size() >= MAX_MEMO && !memo.containsKey(index)) {
            throw error("more than " + MAX_MEMO + " memo entries",
                    "a state dict needs far fewer; the file is hostile (a memo bomb) or corrupt");
        }
        memo.put(index, top);
    }

    private void memoGet(long index) {
        if (!memo.containsKey(index)) {
            throw error("memo entry " + index + " is read before it is written", "the pickle stream is corrupt");
        }
        Object o = memo.get(index);
        if (stack.size() >= MAX_STACK) {
            throw error("more than " + MAX_STACK + " values on the pickle stack",
                    "a state dict needs a few thousand at most; the file is hostile or corrupt");
        }
        stack.add(o);
    }

    @SuppressWarnings("unchecked")
    private List<Object> listBelow(String what) {
        Object l = peek(what);
        if (!(l instanceof ArrayList)) {
            throw error(what + " on " + typeName(l) + ", not a list", "the pickle stream is corrupt");
        }
        return (List<Object>) l;
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dictBelow(String what) {
        Object d = peek(what);
        if (!(d instanceof LinkedHashMap)) {
            throw error(what + " on " + typeName(d) + ", not a dict", "the pickle stream is corrupt");
        }
        return (Map<Object, Object>) d;
    }

    private void putItem(Map<Object, Object> d, Object k, Object v) {
        if (!(k == null || k instanceof String || k instanceof Long || k instanceof BigInteger
                || k instanceof Double || k instanceof Boolean)) {
            throw error("dict key is " + typeName(k) + "; only strings and numbers are read as keys",
                    "a state dict is keyed by tensor names");
        }
        d.put(k, v);
    }

    // ---- globals, calls, persistent ids

    private Global global(String module, String name) {
        String q = module + "." + name;
        if (CALLABLES.contains(q) || (module.equals("torch") && STORAGE_TYPES.containsKey(name))) {
            return new Global(module, name);
        }
        throw error("refusing global '" + q + "': the pickle may only name torch's tensor-rebuild functions,"
                + " typed storages and collections.OrderedDict", CODE_HINT);
    }

    private Object reduce(Object callable, Object args) {
        if (!(callable instanceof Global g)) {
            throw error("REDUCE calls " + typeName(callable) + ", not an allowed global", CODE_HINT);
        }
        if (!(args instanceof Tuple a)) {
            throw error("REDUCE of " + g.qualified() + " with " + typeName(args) + " arguments, not a tuple",
                    "the pickle stream is corrupt");
        }
        return switch (g.qualified()) {
            case "collections.OrderedDict" -> {
                if (a.size() != 0) {
                    throw error("collections.OrderedDict called with " + a.size() + " arguments; torch.save passes none",
                            "the pickle stream is not a plain torch state dict");
                }
                yield new LinkedHashMap<>();
            }
            case "torch._utils._rebuild_tensor_v2" -> rebuildTensor(a);
            case "torch._utils._rebuild_parameter" -> {
                if (a.size() != 3 || !(a.get(0) instanceof TensorRef t)) {
                    throw error("torch._utils._rebuild_parameter needs (tensor, requires_grad, hooks)",
                            "the pickle stream is not a plain torch state dict");
                }
                yield t;
            }
            default -> throw error("REDUCE calls " + g.qualified() + ", which is a storage class, not a function",
                    CODE_HINT);
        };
    }

    private TensorRef rebuildTensor(Tuple a) {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        String sig = "torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)";
        if (a.size() != 6 && a.size() != 7) {
            throw error(sig + " called with " + a.size() + " arguments", "the pickle stream is not a plain torch state dict");
        }
        if (!(a.get(0) instanceof StorageRef s)) {
            throw error(sig + ": storage is " + typeName(a.get(0)) + ", not a persistent storage reference",
                    "the pickle stream is not a plain torch state dict");
        }
        if (!(a.get(1) instanceof Long offset) || offset < 0) {
            throw error(sig + ": storage_offset is not a non-negative integer", "the pickle stream is corrupt");
        }
        long[] shape = longs(a.get(2), sig + ": size");
        long[] stride = longs(a.get(3), sig + ": stride");
        if (shape.length != stride.length) {
            throw error(String.format(Locale.ROOT, "%s: size has %d dimensions but stride has %d", sig, shape.length,
                    stride.length), "the pickle stream is corrupt");
        }
        return new TensorRef(s, offset, shape, stride, opAt);
    }

    private long[] longs(Object o, String what) {
        if (!(o instanceof Tuple t)) {
            throw error(what + " is " + typeName(o) + ", not a tuple", "the pickle stream is corrupt");
        }
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(t.get(i) instanceof Long v) || v < 0) {
                throw error(what + " element " + i + " is not a non-negative integer", "the pickle stream is corrupt");
            }
            out[i] = v;
        }
        return out;
    }

    private StorageRef persistentId(Object pid) {
        // ('storage', storage_type, key, location, numel)
        String form = "('storage', torch.<Type>Storage, key, location, numel)";
        if (!(pid instanceof Tuple t) || t.size() != 5 || !"storage".equals(t.get(0))) {
            throw error("persistent id is " + typeName(pid) + ", not " + form, "the pickle stream is not a plain torch state dict");
        }
        if (!(t.get(1) instanceof Global g) || !g.module().equals("torch") || !STORAGE_TYPES.containsKey(g.name())) {
            throw error("persistent id names storage type " + typeName(t.get(1)) + ", not a torch typed storage",
                    "the pickle stream is not a plain torch state dict");
        }
        if (!(t.get(2) instanceof String key) || !(t.get(3) instanceof String location)) {
            throw error("persistent id key and location must be strings, in " + form, "the pickle stream is corrupt");
        }
        if (!(t.get(4) instanceof Long numel) || numel < 0) {
            throw error("persistent id numel is not a non-negative integer, in " + form, "the pickle stream is corrupt");
        }
        return new StorageRef(STORAGE_TYPES.get(g.name()), key, location, numel);
    }

    // ---- messages

    /** A short Python-flavoured name for the type of {@code o}; never renders the value itself. */
    static String typeName(Object o) {
        return switch (o) {
            case null -> "None";
            case String _ -> "a str";
            case Long _ -> "an int";
            case BigInteger _ -> "an int";
            case Double _ -> "a float";
            case Boolean _ -> "a bool";
            case ArrayList<?> _ -> "a list";
            case LinkedHashMap<?, ?> _ -> "a dict";
            case Tuple t -> "a tuple of " + t.size();
            case Global g -> g.qualified();
            case StorageRef _ -> "a storage";
            case TensorRef _ -> "a tensor";
            default -> o.getClass().getSimpleName();
        };
    }

    private static String opName(int op) {
        String n = switch (op) {
            case 'I' -> "INT";
            case 'L' -> "LONG";
            case 'F' -> "FLOAT";
            case 'S' -> "STRING";
            case 'U' -> "SHORT_BINSTRING";
            case 'T' -> "BINSTRING";
            case 'V' -> "UNICODE";
            case 'B' -> "BINBYTES";
            case 'C' -> "SHORT_BINBYTES";
            case 'P' -> "PERSID";
            case 'i' -> "INST";
            case 'o' -> "OBJ";
            case '0' -> "POP";
            case '1' -> "POP_MARK";
            case '2' -> "DUP";
            case 'g' -> "GET";
            case 'p' -> "PUT";
            case 'l' -> "LIST";
            case 'd' -> "DICT";
            case 0x81 -> "NEWOBJ";
            case 0x82 -> "EXT1";
            case 0x83 -> "EXT2";
            case 0x84 -> "EXT4";
            case 0x8b -> "LONG4";
            case 0x8e -> "BINBYTES8";
            case 0x8f -> "EMPTY_SET";
            case 0x90 -> "ADDITEMS";
            case 0x91 -> "FROZENSET";
            case 0x92 -> "NEWOBJ_EX";
            case 0x96 -> "BYTEARRAY8";
            case 0x97 -> "NEXT_BUFFER";
            case 0x98 -> "READONLY_BUFFER";
            default -> null;
        };
        return n == null ? "" : " (" + n + ")";
    }

    private AmalgamException error(String message, String hint) {
        String at = String.format(Locale.ROOT, " (at byte %d of %s)", opAt, streamName);
        return AmalgamException.input(message + at, Where.offset(file, null, base < 0 ? -1 : base + opAt), hint);
    }
}
