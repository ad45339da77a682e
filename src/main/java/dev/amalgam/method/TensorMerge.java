package dev.amalgam.method;

/**
 * The streaming computation of one output tensor. Part of the method stage; the executor drives
 * it: first {@link #measuringPasses()} passes over the operands in chunks (whole-tensor
 * statistics such as norms), then one applying pass that produces the output chunk by chunk.
 * Chunks are float32 values already rounded to the working dtype, in row-major element order;
 * {@code in[k]} is operand k (recipe order). Nothing here may depend on chunk boundaries beyond
 * the element offset it is given, so the result is the same for every chunk size.
 */
public interface TensorMerge {

    /** The first operand unchanged: what a copied tensor whose input is computed while read goes through. */
    TensorMerge IDENTITY = (in, n, offset, out) -> System.arraycopy(in[0], 0, out, 0, n);

    /**
     * True when every chunk must hold whole rows (the last dimension), e.g. for per-row ranking.
     * The executor then rounds its chunk size to a multiple of the row length.
     */
    default boolean rowAligned() {
        return false;
    }

    /**
     * True when the applying pass of disjoint ranges of the tensor can run on separate instances
     * of this merge (each from {@code prepare}) and give the same values: every chunk's result
     * depends on its inputs and offset only. The executor then splits large tensors across
     * workers. By default, merges without measuring passes.
     */
    default boolean splittable() {
        return measuringPasses() == 0;
    }

    /**
     * How many measuring passes precede the applying pass. It may grow in {@link #endPass} (a
     * count that must be repeated), so drivers read it again after each pass.
     */
    default int measuringPasses() {
        return 0;
    }

    /** One chunk of a measuring pass: {@code n} elements starting at element {@code offset}. */
    default void measure(int pass, float[][] in, int n, long offset) {
    }

    /** Called after the last chunk of measuring pass {@code pass}. */
    default void endPass(int pass) {
    }

    /** One chunk of the applying pass: writes {@code n} results to {@code out}. */
    void apply(float[][] in, int n, long offset, float[] out);
}
