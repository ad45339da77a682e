package dev.amalgam.model;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.io.DType;
import dev.amalgam.io.TensorInfo;
import dev.amalgam.io.TensorSource;
import dev.amalgam.kernel.Codec;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One tensor of an input model as the merge sees it. Model stage. Usually a stored tensor (a
 * safetensors shard or a PyTorch checkpoint entry); a derived tensor is computed while it is read
 * (a base weight plus a LoRA update, an adapter's replacement tensor, a fused-experts matrix
 * assembled from per-expert tensors). The executor reads values through {@link #read}, whatever
 * the case, and copies raw bytes through {@link #data()} only for stored tensors.
 *
 * @param source  the file holding the tensor; for a derived tensor, the file of its first input
 * @param info    the stored entry; for a derived tensor, its name, dtype and shape as the merge sees them
 * @param derived how a derived tensor's values are computed; null for a stored tensor
 */
public record TensorHandle(TensorSource source, TensorInfo info, Derivation derived) {

    /** A stored tensor. */
    public TensorHandle(TensorSource source, TensorInfo info) {
        this(source, info, null);
    }

    /** A derived tensor called {@code name}, of dtype {@code dtype} and shape {@code shape}. */
    static TensorHandle derived(String name, DType dtype, long[] shape, Derivation derived) {
        long bytes = 1;
        for (long d : shape) {
            bytes = Math.multiplyExact(bytes, d);
        }
        TensorInfo info = new TensorInfo(name, dtype, shape, 0, Math.multiplyExact(bytes, dtype.byteSize()));
        return new TensorHandle(derived.inputs().getFirst().source(), info, derived);
    }

    /** True for a stored tensor, whose bytes {@link #data()} hands out as they are. */
    public boolean stored() {
        return derived == null;
    }

    /** The stored tensor's bytes, row-major and little-endian; valid while the model is open. */
    public MemorySegment data() {
        if (derived != null) {
            throw AmalgamException.internal(info.name() + " is computed while it is read and has no stored bytes", null);
        }
        return source.data(info);
    }

    /**
     * Elements {@code [off, off+len)} as float32 into {@code dst[at..]}: exact for a stored tensor;
     * for a derived one the values it stands for, rounded to its dtype.
     */
    public void read(long off, int len, float[] dst, int at) {
        if (derived == null) {
            Codec.decode(info.dtype(), source.data(info), off * info.dtype().byteSize(), dst, at, len);
        } else {
            derived.read(this, off, len, dst, at);
        }
    }

    /**
     * Drops the pages of this tensor's bytes from the process's mapping (the inputs of a derived
     * tensor, for one): they stay in the page cache, and a later read maps them again. What the
     * executor does behind each finished tensor, so that the process's resident memory is the
     * tensors in flight, not the models.
     */
    public void release() {
        if (derived != null) {
            derived.inputs().forEach(TensorHandle::release);
            return;
        }
        MemorySegment s = source.data(info);
        if (s.isMapped() && s.byteSize() > 0) {
            s.unload();
        }
    }

    /** The files the values come from (for a derived tensor, those of all its inputs). */
    public List<Path> files() {
        if (derived == null) {
            return List.of(source.path());
        }
        List<Path> out = new ArrayList<>();
        for (TensorHandle h : derived.inputs()) {
            for (Path p : h.files()) {
                if (!out.contains(p)) {
                    out.add(p);
                }
            }
        }
        return out;
    }

    public String name() {
        return info.name();
    }
}
