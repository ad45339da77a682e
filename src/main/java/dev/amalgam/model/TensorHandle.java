package dev.amalgam.model;

import dev.amalgam.io.SafetensorsFile;
import dev.amalgam.io.TensorInfo;

import java.lang.foreign.MemorySegment;

/**
 * One stored tensor of an input model: the shard it lives in and its header entry. Model stage;
 * the executor reads its bytes through {@link #data()}.
 */
public record TensorHandle(SafetensorsFile file, TensorInfo info) {

    public MemorySegment data() {
        return file.data(info);
    }

    public String name() {
        return info.name();
    }
}
