package dev.amalgam.model;

import dev.amalgam.io.TensorInfo;
import dev.amalgam.io.TensorSource;

import java.lang.foreign.MemorySegment;

/**
 * One stored tensor of an input model: the file it lives in (a safetensors shard or a PyTorch
 * checkpoint) and its entry there. Model stage; the executor reads its bytes through
 * {@link #data()}, whatever the file format.
 */
public record TensorHandle(TensorSource source, TensorInfo info) {

    /** The tensor's bytes, row-major and little-endian; valid while the model is open. */
    public MemorySegment data() {
        return source.data(info);
    }

    public String name() {
        return info.name();
    }
}
