package dev.amalgam.plan;

import java.util.List;

/**
 * One output safetensors file and the tensors it holds, in write order. Plan stage.
 */
public record Shard(String fileName, List<OutputTensor> tensors) {

    public long bytes() {
        long s = 0;
        for (OutputTensor t : tensors) {
            s += t.byteSize();
        }
        return s;
    }
}
