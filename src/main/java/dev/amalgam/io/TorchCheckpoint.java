package dev.amalgam.io;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.CRC32;

/**
 * A PyTorch checkpoint ({@code pytorch_model.bin} and the like) in torch's zip format, opened
 * lazily and read-only: the I/O stage's reader for {@code torch.save} files. The file is mapped
 * once; its {@code <archive>/data.pkl} is read by {@link PickleReader}, which executes nothing and
 * accepts only what a state dict needs; each tensor becomes a {@link TensorInfo} whose bytes are a
 * slice of the mapped storage entry {@code <archive>/data/<key>}. No tensor data is read when
 * opening.
 *
 * <p>Layout: a zip archive whose entries all sit in one folder {@code <archive>/} (torch names it
 * after the file, or {@code archive}): {@code data.pkl} (the pickled state dict, storages as
 * persistent ids), {@code byteorder} ({@code little}), {@code data/<key>} (one STORED, 64-byte
 * aligned entry per storage) and {@code version}. The state dict is the pickled dict itself, or its
 * {@code state_dict} entry when it has one; entries whose values are not tensors are ignored.
 * Tensors must be contiguous views of their storage; several tensors may share one storage (tied
 * weights). The legacy pre-1.6 format (a bare pickle stream) is refused with a hint.
 *
 * <p>{@link TensorInfo#dataStart()} and {@link TensorInfo#dataEnd()} of the entries here are byte
 * offsets in the file itself.
 */
public final class TorchCheckpoint implements TensorSource {

    /** Largest {@code data.pkl} inflated into memory when it is compressed (a state dict's is a few MB). */
    public static final long MAX_PICKLE_BYTES = 256L << 20;

    /** {@code torch.save}'s legacy magic number, pickled as a LONG1 after PROTO 2. */
    private static final byte[] LEGACY_MAGIC = {(byte) 0x80, 0x02, (byte) 0x8a, 0x0a,
            0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20, 0x6a, (byte) 0xa8, 0x50, 0x19};

    private static final String CONVERT_HINT = "convert it to safetensors from a trusted source";

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final String archive;
    private final List<TensorInfo> tensors;
    private final Map<String, TensorInfo> byName;
    private final AtomicBoolean closed = new AtomicBoolean();

    private TorchCheckpoint(Path path, Arena arena, MemorySegment mapping, String archive, List<TensorInfo> tensors) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.archive = archive;
        this.tensors = tensors;
        this.byName = TensorInfo.byName(tensors);
    }

    /**
     * Maps {@code path}, reads its zip directory and its pickled state dict.
     *
     * @throws AmalgamException IO when the file cannot be read; INPUT when it is not a torch zip
     *                          checkpoint, is corrupt, or its pickle names anything but tensor
     *                          storage
     */
    public static TorchCheckpoint open(Path path) {
        if (Files.isDirectory(path)) {
            throw AmalgamException.input("'" + path + "' is a directory, not a PyTorch checkpoint", Where.file(path),
                    "pass the .bin file itself, or the model directory where a model is expected");
        }
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapping;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                mapping = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            }
            checkMagic(path, mapping);
            ZipArchive zip = ZipArchive.read(path, mapping);
            String archive = archiveName(path, zip);
            checkByteOrder(path, zip, archive);
            Object root = readPickle(path, zip, archive);
            List<TensorInfo> tensors = tensors(path, zip, archive, root);
            return new TorchCheckpoint(path, arena, mapping, archive, tensors);
        } catch (NoSuchFileException e) {
            arena.close();
            throw AmalgamException.io("PyTorch checkpoint '" + path + "' does not exist", Where.file(path),
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

    private static void checkMagic(Path path, MemorySegment m) {
        long size = m.byteSize();
        if (size >= 4 && m.get(ValueLayout.JAVA_BYTE, 0) == 'P' && m.get(ValueLayout.JAVA_BYTE, 1) == 'K') {
            return;
        }
        boolean legacy = size >= LEGACY_MAGIC.length;
        for (int i = 0; legacy && i < LEGACY_MAGIC.length; i++) {
            legacy = m.get(ValueLayout.JAVA_BYTE, i) == LEGACY_MAGIC[i];
        }
        String legacyHint = "this is torch's legacy (pre-1.6) format, which Amalgam does not read; re-save it with a"
                + " recent torch (torch.save(torch.load(f, weights_only=True), f)) or " + CONVERT_HINT;
        if (legacy) {
            throw AmalgamException.input("'" + path.getFileName() + "' is a legacy PyTorch checkpoint (a bare pickle stream,"
                    + " not a zip archive)", Where.offset(path, null, 0), legacyHint);
        }
        if (size >= 262 && new String(m.asSlice(257, 5).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII)
                .equals("ustar")) {
            throw AmalgamException.input("'" + path.getFileName() + "' is a tar-format PyTorch checkpoint", Where.offset(path, null, 0),
                    legacyHint);
        }
        throw AmalgamException.input(String.format(Locale.ROOT, "'%s' is not a PyTorch zip checkpoint (%d bytes, no zip signature)",
                path.getFileName(), size), Where.offset(path, null, 0), size == 0
                ? "the file is empty; download it again"
                : "the file is corrupt, truncated or of another format; download it again");
    }

    /** The one folder holding {@code data.pkl}. */
    private static String archiveName(Path path, ZipArchive zip) {
        List<String> found = new ArrayList<>();
        boolean torchScript = false;
        for (String n : zip.entries().keySet()) {
            int slash = n.indexOf('/');
            if (slash > 0 && n.indexOf('/', slash + 1) < 0) {
                String leaf = n.substring(slash + 1);
                if (leaf.equals("data.pkl")) {
                    found.add(n.substring(0, slash));
                } else if (leaf.equals("constants.pkl")) {
                    torchScript = true;
                }
            }
        }
        if (found.size() == 1) {
            return found.getFirst();
        }
        if (found.isEmpty()) {
            throw AmalgamException.input("zip archive '" + path.getFileName() + "' has no <archive>/data.pkl"
                            + (torchScript ? "; it is a TorchScript module, not a state dict" : ""),
                    Where.file(path), torchScript
                            ? "save the model's state_dict() with torch.save, or " + CONVERT_HINT
                            : "the file is not a torch.save checkpoint");
        }
        throw AmalgamException.input("zip archive '" + path.getFileName() + "' has " + found.size()
                + " data.pkl entries (" + String.join(", ", found) + "); a checkpoint has one", Where.file(path),
                "the file is corrupt or hostile");
    }

    private static void checkByteOrder(Path path, ZipArchive zip, String archive) {
        ZipArchive.Entry e = zip.entry(archive + "/byteorder");
        if (e == null) {
            return;
        }
        String order = new String(zip.readAll(e, 16), StandardCharsets.US_ASCII);
        if (order.equals("big")) {
            throw AmalgamException.input("checkpoint was saved on a big-endian machine", Where.offset(path, null, e.dataOffset()),
                    "load and re-save it on a little-endian machine, or " + CONVERT_HINT);
        }
        if (!order.equals("little")) {
            throw AmalgamException.input("checkpoint has byte order '" + printable(order) + "', not 'little' or 'big'",
                    Where.offset(path, null, e.dataOffset()), "the file is corrupt; download it again");
        }
    }

    private static Object readPickle(Path path, ZipArchive zip, String archive) {
        String name = archive + "/data.pkl";
        ZipArchive.Entry e = zip.entry(name);
        if (e.method() == ZipArchive.STORED) {
            MemorySegment pkl = zip.stored(e);
            CRC32 crc = new CRC32();
            crc.update(pkl.asByteBuffer());
            if (crc.getValue() != e.crc()) {
                throw AmalgamException.input(String.format(Locale.ROOT, "zip entry '%s' fails its CRC-32 check (%08x, expected %08x)",
                        name, crc.getValue(), e.crc()), Where.offset(path, null, e.dataOffset()),
                        "the file is corrupt; download it again");
            }
            return PickleReader.read(pkl, path, name, e.dataOffset());
        }
        return PickleReader.read(zip.readAll(e, MAX_PICKLE_BYTES), path, name);
    }

    @SuppressWarnings("unchecked")
    private static List<TensorInfo> tensors(Path path, ZipArchive zip, String archive, Object root) {
        if (!(root instanceof LinkedHashMap<?, ?> top)) {
            throw AmalgamException.input("the pickled object is " + PickleReader.typeName(root) + ", not a state dict",
                    Where.file(path), "a checkpoint holds a dict of tensor names to tensors");
        }
        Map<Object, Object> dict = (Map<Object, Object>) top;
        if (dict.get("state_dict") instanceof LinkedHashMap<?, ?> inner) {
            dict = (Map<Object, Object>) inner;
        }
        Map<String, PickleReader.StorageRef> storages = new HashMap<>();
        List<TensorInfo> out = new ArrayList<>(dict.size());
        for (Map.Entry<Object, Object> kv : dict.entrySet()) {
            if (!(kv.getValue() instanceof PickleReader.TensorRef t)) {
                continue;
            }
            if (!(kv.getKey() instanceof String name)) {
                throw AmalgamException.input("a tensor is keyed by " + PickleReader.typeName(kv.getKey()) + ", not a name",
                        Where.offset(path, null, t.at()), "a state dict maps tensor names to tensors");
            }
            out.add(tensor(path, zip, archive, name, t, storages));
        }
        if (out.isEmpty() && !dict.isEmpty()) {
            throw AmalgamException.input("the state dict in '" + path.getFileName() + "' holds no tensors", Where.file(path),
                    "the checkpoint may be a training state; save model.state_dict() instead");
        }
        return List.copyOf(out);
    }

    private static TensorInfo tensor(Path path, ZipArchive zip, String archive, String name, PickleReader.TensorRef t,
            Map<String, PickleReader.StorageRef> storages) {
        PickleReader.StorageRef s = t.storage();
        DType dtype = s.dtype();
        Where where = Where.offset(path, name, t.at());
        PickleReader.StorageRef seen = storages.putIfAbsent(s.key(), s);
        if (seen != null && (seen.dtype() != s.dtype() || seen.numel() != s.numel())) {
            throw AmalgamException.input(String.format(Locale.ROOT,
                            "storage '%s' is %d %s elements for one tensor and %d %s elements for tensor '%s'",
                            s.key(), seen.numel(), seen.dtype().torchName(), s.numel(), dtype.torchName(), name),
                    where, "the checkpoint is corrupt; " + CONVERT_HINT);
        }
        String entryName = archive + "/data/" + s.key();
        ZipArchive.Entry e = zip.entry(entryName);
        if (e == null) {
            throw AmalgamException.input("tensor '" + name + "' uses storage '" + s.key() + "', but the archive has no entry '"
                    + entryName + "'", where, "the file is truncated or corrupt; download it again");
        }
        if (e.method() != ZipArchive.STORED) {
            throw AmalgamException.input("storage entry '" + entryName + "' of tensor '" + name + "' is compressed (method "
                            + e.method() + "); torch writes storages uncompressed", Where.offset(path, name, e.headerOffset()),
                    "the file was re-zipped with compression; re-save it with torch.save or " + CONVERT_HINT);
        }
        long storageBytes;
        long numel;
        try {
            storageBytes = Math.multiplyExact(s.numel(), (long) dtype.byteSize());
            numel = 1;
            for (long d : t.shape()) {
                numel = Math.multiplyExact(numel, d);
            }
            Math.multiplyExact(numel, (long) dtype.byteSize());
        } catch (ArithmeticException ex) {
            throw AmalgamException.input("tensor '" + name + "' with shape " + TensorInfo.shapeString(t.shape())
                    + " has more bytes than fit in 64 bits", where, "the file is corrupt or hostile");
        }
        if (e.size() != storageBytes) {
            throw AmalgamException.input(String.format(Locale.ROOT,
                            "storage entry '%s' is %d bytes but the pickle declares %d %s elements (%d bytes)",
                            entryName, e.size(), s.numel(), dtype.torchName(), storageBytes),
                    Where.offset(path, name, e.dataOffset()), "the file is truncated or corrupt; download it again");
        }
        long[] shape = t.shape();
        long[] stride = t.stride();
        if (numel > 0) {
            long expected = 1;
            for (int i = shape.length - 1; i >= 0; i--) {
                if (shape[i] != 1 && stride[i] != expected) {
                    throw AmalgamException.input(String.format(Locale.ROOT,
                                    "tensor '%s' is not contiguous: shape %s with strides %s (contiguous would be %s)",
                                    name, TensorInfo.shapeString(shape), TensorInfo.shapeString(stride),
                                    TensorInfo.shapeString(contiguousStrides(shape))),
                            where, "save it with tensor.contiguous(), or " + CONVERT_HINT
                                    + " (safetensors stores only contiguous tensors)");
                }
                expected *= shape[i];
            }
            if (t.offset() > s.numel() - numel) {
                throw AmalgamException.input(String.format(Locale.ROOT,
                                "tensor '%s' needs elements [%d, %d) of storage '%s', which has %d",
                                name, t.offset(), t.offset() + numel, s.key(), s.numel()),
                        where, "the file is corrupt; download it again");
            }
        } else if (t.offset() > s.numel()) {
            throw AmalgamException.input(String.format(Locale.ROOT, "tensor '%s' starts at element %d of storage '%s', which has %d",
                    name, t.offset(), s.key(), s.numel()), where, "the file is corrupt; download it again");
        }
        long start = e.dataOffset() + t.offset() * dtype.byteSize();
        return new TensorInfo(name, dtype, shape, start, start + numel * dtype.byteSize());
    }

    private static long[] contiguousStrides(long[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= Math.max(shape[i], 1);
        }
        return s;
    }

    private static String printable(String s) {
        StringBuilder sb = new StringBuilder();
        for (char c : s.toCharArray()) {
            sb.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return sb.toString();
    }

    @Override
    public Path path() {
        return path;
    }

    /** The folder inside the zip that holds the checkpoint's records. */
    public String archiveName() {
        return archive;
    }

    /** All tensors, in state-dict order. */
    @Override
    public List<TensorInfo> tensors() {
        return tensors;
    }

    @Override
    public TensorInfo tensor(String name) {
        return byName.get(name);
    }

    @Override
    public MemorySegment data(TensorInfo t) {
        TensorInfo own = byName.get(t.name());
        if (own == null || own.dataStart() != t.dataStart() || own.dataEnd() != t.dataEnd()) {
            throw AmalgamException.internal("tensor '" + t.name() + "' does not belong to " + path, null);
        }
        return mapping.asSlice(t.dataStart(), t.dataEnd() - t.dataStart());
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
        return "TorchCheckpoint[" + path + ", " + tensors.size() + " tensors]";
    }
}
