package dev.amalgam.plan;

import dev.amalgam.io.DType;
import dev.amalgam.method.MergeContext;

import java.util.List;

/**
 * One tensor of the output model, fully decided before any data is read: name, shape, dtype,
 * inputs, the method's resolved parameters, and where it goes. Plan stage.
 *
 * @param name     output tensor name
 * @param shape    output shape
 * @param dtype    stored dtype of the output
 * @param operands inputs in recipe order
 * @param context  what the method needs (working dtype, base index, parameters)
 * @param copy     true when the bytes of the single operand are copied verbatim
 * @param role     "pre", "layer", "post" or "extra"
 * @param orderKey the key that fixes the write order (the largest input name, as mergekit orders)
 */
public record OutputTensor(String name, long[] shape, DType dtype, List<Operand> operands, MergeContext context,
                           boolean copy, String role, String orderKey) {

    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public long byteSize() {
        return Math.multiplyExact(numel(), dtype.byteSize());
    }

    /** Bytes read from the inputs for this tensor. */
    public long bytesRead() {
        long s = 0;
        for (Operand o : operands) {
            s += o.tensor().info().byteSize();
        }
        return s;
    }
}
