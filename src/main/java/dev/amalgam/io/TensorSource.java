package dev.amalgam.io;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;

/**
 * One opened tensor file of an input model, whatever its format: a safetensors shard
 * ({@link SafetensorsFile}) or a PyTorch checkpoint ({@link TorchCheckpoint}). Part of the I/O
 * stage; the model stage indexes tensors across the sources of a model and hands out their bytes
 * through {@link #data}, so nothing after it needs to know the file format.
 *
 * <p>The meaning of {@link TensorInfo#dataStart()} and {@link TensorInfo#dataEnd()} belongs to the
 * source that produced the entry; pass an entry back only to the source it came from.
 */
public interface TensorSource extends AutoCloseable {

    /** The file this was opened from. */
    Path path();

    /** Every tensor of the file. */
    List<TensorInfo> tensors();

    /** The tensor called {@code name}, or null if the file has none. */
    TensorInfo tensor(String name);

    /**
     * A read-only segment of exactly {@code t.byteSize()} bytes holding {@code t}'s elements,
     * row-major, little-endian, possibly unaligned. Valid until {@link #close()}.
     */
    MemorySegment data(TensorInfo t);

    /** Releases the mapping; segments handed out before are unusable afterwards. Idempotent. */
    @Override
    void close();
}
