package dev.amalgam.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

/**
 * One safetensors file, memory-mapped read-only: the I/O stage's reader. The whole file is mapped
 * once into a shared {@link Arena} (so worker threads can read it concurrently) and the header is
 * validated completely before any tensor data is handed out, in the order of the reference Rust
 * reader: header length, UTF-8, JSON object, each entry (dtype, shape, data offsets, byte
 * length), then the data section as a whole (sorted by offset it must start at 0, be contiguous,
 * never overlap and end exactly at the end of the file). Every failure is an
 * {@link AmalgamException} naming the file and, where one applies, the tensor and byte offset.
 *
 * <p>Layout: {@code u64 header_len (little-endian) | header_len bytes of UTF-8 JSON | data}.
 * Closing the file closes the arena; segments from {@link #data} are unusable afterwards.
 */
public final class SafetensorsFile implements TensorSource {

    /** Largest header the reader accepts, as the reference implementation: 100 MB. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    private static final ValueLayout.OfLong U64_LE =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final ObjectMapper JSON = JsonMapper.builder(JsonFactory.builder()
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .enable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
                    .streamReadConstraints(StreamReadConstraints.builder()
                            .maxStringLength(Integer.MAX_VALUE)
                            .maxNameLength(Integer.MAX_VALUE)
                            .build())
                    .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final long dataSectionOffset;
    private final List<TensorInfo> tensors;
    private final Map<String, TensorInfo> byName;
    private final Map<String, String> metadata;
    private final AtomicBoolean closed = new AtomicBoolean();

    private SafetensorsFile(Path path, Arena arena, MemorySegment mapping, long dataSectionOffset,
            List<TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.dataSectionOffset = dataSectionOffset;
        this.tensors = tensors;
        this.metadata = metadata;
        this.byName = TensorInfo.byName(tensors);
    }

    /**
     * Maps {@code path} and validates its header.
     *
     * @throws AmalgamException kind IO when the file cannot be read, INPUT when it is not a valid
     *                          safetensors file
     */
    public static SafetensorsFile open(Path path) {
        if (Files.isDirectory(path)) {
            throw AmalgamException.input("'" + path + "' is a directory, not a safetensors file",
                    Where.file(path), "pass the .safetensors file itself, or the model directory where a model is expected");
        }
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapping;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                long size = ch.size();
                if (size < 8) {
                    throw corrupt(path, null, 0,
                            String.format(Locale.ROOT, "file is %d bytes long, too short for the 8-byte header length", size),
                            "the file is truncated or is not a safetensors file");
                }
                mapping = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            }
            Parsed parsed = parse(path, mapping);
            return new SafetensorsFile(path, arena, mapping, parsed.dataSectionOffset, parsed.tensors,
                    parsed.metadata);
        } catch (NoSuchFileException e) {
            arena.close();
            throw AmalgamException.io("safetensors file '" + path + "' does not exist", Where.file(path),
                    "check the path and that the download is complete", e);
        } catch (AccessDeniedException e) {
            arena.close();
            throw AmalgamException.io("permission denied reading '" + path + "'", Where.file(path),
                    "check the file's permissions", e);
        } catch (IOException e) {
            arena.close();
            throw AmalgamException.io("cannot read '" + path + "': " + e.getMessage(), Where.file(path),
                    "check that the file is readable and the disk is healthy", e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private record Parsed(long dataSectionOffset, List<TensorInfo> tensors, Map<String, String> metadata) {
    }

    private static Parsed parse(Path path, MemorySegment mapping) {
        long fileSize = mapping.byteSize();

        // u64 header_len
        long headerLen = mapping.get(U64_LE, 0);
        if (headerLen == 0) {
            throw corrupt(path, null, 0, "header length is 0; a safetensors header is at least '{}'",
                    "the file is corrupt or is not a safetensors file");
        }
        if (headerLen < 0 || headerLen > MAX_HEADER_BYTES) {
            throw corrupt(path, null, 0,
                    String.format(Locale.ROOT, "header length %s exceeds the limit of %d bytes",
                            Long.toUnsignedString(headerLen), MAX_HEADER_BYTES),
                    "the file is corrupt or is not a safetensors file");
        }
        if (headerLen > fileSize - 8) {
            throw corrupt(path, null, 0,
                    String.format(Locale.ROOT, "header length %d goes beyond the end of the file (%d bytes)",
                            headerLen, fileSize),
                    "the file is truncated; download it again");
        }
        long dataOffset = 8 + headerLen;

        // header_len bytes: UTF-8 JSON object, optionally padded with spaces
        byte[] header = mapping.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
        checkUtf8(path, header);
        if (header[0] != '{') {
            throw corrupt(path, null, 8, "header does not start with '{'",
                    "the header must be a JSON object; the file is corrupt or is not a safetensors file");
        }
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (JsonProcessingException e) {
            JsonLocation loc = e.getLocation();
            long at = loc == null || loc.getByteOffset() < 0 ? 8 : 8 + loc.getByteOffset();
            String what = e.getOriginalMessage();
            throw corrupt(path, null, at, "header is not valid JSON: " + firstLine(what),
                    what != null && what.startsWith("Duplicate field")
                            ? "a tensor name may appear only once in a header"
                            : "the file is corrupt or is not a safetensors file");
        } catch (IOException e) {
            throw corrupt(path, null, 8, "header is not valid JSON: " + e.getMessage(),
                    "the file is corrupt or is not a safetensors file");
        }
        if (root == null || !root.isObject()) {
            throw corrupt(path, null, 8, "header is not a JSON object",
                    "the file is corrupt or is not a safetensors file");
        }

        Map<String, String> metadata = Map.of();
        List<TensorInfo> tensors = new ArrayList<>(root.size());
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals(METADATA_KEY)) {
                metadata = parseMetadata(path, v);
            } else {
                tensors.add(parseEntry(path, name, v));
            }
        }

        // data section: sorted by offset, it starts at 0, is contiguous and ends at the file's end
        long dataSize = fileSize - dataOffset;
        tensors.sort(Comparator.comparingLong(TensorInfo::dataStart)
                .thenComparingLong(TensorInfo::dataEnd)
                .thenComparing(TensorInfo::name));
        long expected = 0;
        TensorInfo previous = null;
        for (TensorInfo t : tensors) {
            if (t.dataStart() < expected) {
                throw corrupt(path, t.name(), dataOffset + t.dataStart(),
                        String.format(Locale.ROOT, "tensor '%s' (data bytes [%d, %d)) overlaps tensor '%s' (data bytes [%d, %d))",
                                t.name(), t.dataStart(), t.dataEnd(), previous.name(), previous.dataStart(),
                                previous.dataEnd()),
                        "each tensor must have its own byte range; the file is corrupt");
            }
            if (t.dataStart() > expected) {
                throw corrupt(path, t.name(), dataOffset + expected,
                        String.format(Locale.ROOT, "data bytes [%d, %d) before tensor '%s' belong to no tensor",
                                expected, t.dataStart(), t.name()),
                        previous == null
                                ? "the data section must start with a tensor at offset 0; the file is corrupt"
                                : "tensors must be contiguous, with no gaps; the file is corrupt");
            }
            if (t.dataEnd() > dataSize) {
                throw corrupt(path, t.name(), dataOffset + t.dataStart(),
                        String.format(Locale.ROOT, "tensor '%s' needs data bytes [%d, %d) but the file has only %d data bytes",
                                t.name(), t.dataStart(), t.dataEnd(), dataSize),
                        "the file is truncated; download it again");
            }
            expected = t.dataEnd();
            previous = t;
        }
        if (expected != dataSize) {
            throw corrupt(path, null, dataOffset + expected,
                    String.format(Locale.ROOT, "%d trailing bytes after the last tensor's data (data section ends at byte %d, file is %d bytes)",
                            dataSize - expected, dataOffset + expected, fileSize),
                    "the file is corrupt or was written by a faulty tool");
        }
        return new Parsed(dataOffset, List.copyOf(tensors), metadata);
    }

    private static void checkUtf8(Path path, byte[] header) {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(header);
        CharBuffer out = CharBuffer.allocate(Math.min(header.length, 1 << 16));
        while (true) {
            CoderResult r = dec.decode(in, out, true);
            if (r.isError()) {
                throw corrupt(path, null, 8 + in.position(), "header is not valid UTF-8",
                        "the file is corrupt or is not a safetensors file");
            }
            if (r.isOverflow()) {
                out.clear();
                continue;
            }
            break;
        }
    }

    private static Map<String, String> parseMetadata(Path path, JsonNode v) {
        if (v.isNull()) {
            return Map.of();
        }
        if (!v.isObject()) {
            throw corrupt(path, METADATA_KEY, 8, "__metadata__ is not a JSON object",
                    "__metadata__ must map strings to strings");
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : v.properties()) {
            if (!e.getValue().isTextual()) {
                throw corrupt(path, METADATA_KEY, 8,
                        "__metadata__ value for key '" + e.getKey() + "' is not a string",
                        "__metadata__ must map strings to strings");
            }
            m.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(m);
    }

    private static TensorInfo parseEntry(Path path, String name, JsonNode v) {
        if (!v.isObject()) {
            throw corrupt(path, name, 8, "header entry for tensor '" + name + "' is not a JSON object",
                    "each entry must be {\"dtype\": ..., \"shape\": [...], \"data_offsets\": [begin, end]}");
        }
        for (String field : List.of("dtype", "shape", "data_offsets")) {
            if (!v.has(field)) {
                throw corrupt(path, name, 8, "header entry for tensor '" + name + "' has no '" + field + "'",
                        "each entry must have dtype, shape and data_offsets");
            }
        }
        // dtype
        JsonNode dt = v.get("dtype");
        DType dtype = dt.isTextual() ? DType.fromSafetensors(dt.textValue()) : null;
        if (dtype == null) {
            throw corrupt(path, name, 8, "tensor '" + name + "' has unsupported dtype " + dt,
                    "supported dtypes: " + Arrays.stream(DType.values()).map(DType::safetensorsName)
                            .collect(Collectors.joining(", ")));
        }
        // shape
        JsonNode sh = v.get("shape");
        if (!sh.isArray()) {
            throw corrupt(path, name, 8, "tensor '" + name + "' has shape " + sh + ", not an array",
                    "shape must be a list of non-negative integers");
        }
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw corrupt(path, name, 8,
                        "tensor '" + name + "' has shape " + sh + ": dimension " + i + " is not a non-negative integer",
                        "shape must be a list of non-negative integers");
            }
            shape[i] = d.longValue();
        }
        long nbytes;
        try {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            nbytes = Math.multiplyExact(n, (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw corrupt(path, name, 8,
                    "tensor '" + name + "' with shape " + TensorInfo.shapeString(shape) + " and dtype "
                            + dtype.safetensorsName() + " has more bytes than fit in 64 bits",
                    "the header is corrupt");
        }
        // data_offsets: [begin, end)
        JsonNode off = v.get("data_offsets");
        if (!off.isArray() || off.size() != 2
                || !isNonNegativeLong(off.get(0)) || !isNonNegativeLong(off.get(1))) {
            throw corrupt(path, name, 8,
                    "tensor '" + name + "' has data_offsets " + off + ", not two non-negative integers",
                    "data_offsets must be [begin, end] relative to the data section");
        }
        long begin = off.get(0).longValue();
        long end = off.get(1).longValue();
        if (begin > end) {
            throw corrupt(path, name, 8,
                    String.format(Locale.ROOT, "tensor '%s' has data_offsets [%d, %d]: begin is after end", name, begin, end),
                    "the header is corrupt");
        }
        if (end - begin != nbytes) {
            throw corrupt(path, name, 8,
                    String.format(Locale.ROOT, "tensor '%s' has data_offsets [%d, %d] (%d bytes) but dtype %s and shape %s need %d bytes",
                            name, begin, end, end - begin, dtype.safetensorsName(),
                            TensorInfo.shapeString(shape), nbytes),
                    "the header is corrupt");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static boolean isNonNegativeLong(JsonNode n) {
        return n.isIntegralNumber() && n.canConvertToLong() && n.longValue() >= 0;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static AmalgamException corrupt(Path path, String tensor, long offset, String message, String hint) {
        return AmalgamException.input(message, Where.offset(path, tensor, offset), hint);
    }

    /** The file this was opened from. */
    @Override
    public Path path() {
        return path;
    }

    /** All tensors, in data-offset order. */
    @Override
    public List<TensorInfo> tensors() {
        return tensors;
    }

    /** The tensor called {@code name}, or null if the file has none. */
    @Override
    public TensorInfo tensor(String name) {
        return byName.get(name);
    }

    /** The header's {@code __metadata__}, empty if it has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * A read-only slice of the mapping holding {@code t}'s bytes (little-endian, possibly
     * unaligned). Valid until {@link #close()}.
     */
    @Override
    public MemorySegment data(TensorInfo t) {
        TensorInfo own = byName.get(t.name());
        if (own == null || own.dataStart() != t.dataStart() || own.dataEnd() != t.dataEnd()) {
            throw AmalgamException.internal("tensor '" + t.name() + "' does not belong to " + path, null);
        }
        return mapping.asSlice(dataSectionOffset + t.dataStart(), t.dataEnd() - t.dataStart());
    }

    /** Offset of the data section in the file: 8 + header length. */
    public long dataSectionOffset() {
        return dataSectionOffset;
    }

    /** Size of the file in bytes. */
    public long fileSize() {
        return mapping.byteSize();
    }

    /** Unmaps the file (closes the arena). Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors]";
    }
}
