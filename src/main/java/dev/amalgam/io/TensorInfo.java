package dev.amalgam.io;

import java.util.Arrays;
import java.util.Locale;
import java.util.StringJoiner;

/**
 * One entry of a safetensors header: name, dtype, shape and the byte range of its data. Part of
 * the I/O stage. Offsets are relative to the start of the data section, exactly as the header
 * stores them; {@link SafetensorsFile#dataSectionOffset()} turns them into file offsets.
 *
 * @param name      tensor name
 * @param dtype     element type
 * @param shape     dimensions, outermost first (copied; an empty array is a scalar)
 * @param dataStart first byte, relative to the data section
 * @param dataEnd   one past the last byte, relative to the data section
 */
public record TensorInfo(String name, DType dtype, long[] shape, long dataStart, long dataEnd) {

    public TensorInfo {
        shape = shape.clone();
    }

    /** The dimensions (a copy). */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code i}. */
    public long dim(int i) {
        return shape[i];
    }

    /** Number of elements: the product of the dimensions (1 for a scalar). */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Bytes of data: {@code numel() * dtype.byteSize()}. */
    public long byteSize() {
        return Math.multiplyExact(numel(), dtype.byteSize());
    }

    /** The shape as {@code [512, 64]}. */
    public String shapeString() {
        return shapeString(shape);
    }

    /** An unmodifiable map from name to entry, for a file's tensor list. */
    static java.util.Map<String, TensorInfo> byName(java.util.List<TensorInfo> tensors) {
        java.util.Map<String, TensorInfo> m = java.util.HashMap.newHashMap(tensors.size());
        for (TensorInfo t : tensors) {
            m.put(t.name(), t);
        }
        return java.util.Collections.unmodifiableMap(m);
    }

    static String shapeString(long[] shape) {
        StringJoiner j = new StringJoiner(", ", "[", "]");
        for (long d : shape) {
            j.add(Long.toString(d));
        }
        return j.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t
                && name.equals(t.name)
                && dtype == t.dtype
                && Arrays.equals(shape, t.shape)
                && dataStart == t.dataStart
                && dataEnd == t.dataEnd;
    }

    @Override
    public int hashCode() {
        return ((name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape)) * 31
                + Long.hashCode(dataStart) * 17 + Long.hashCode(dataEnd);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s %s %s [%d, %d)", name, dtype.safetensorsName(),
                shapeString(), dataStart, dataEnd);
    }
}
