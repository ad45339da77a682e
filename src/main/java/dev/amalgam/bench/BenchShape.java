package dev.amalgam.bench;

import dev.amalgam.io.DType;
import dev.amalgam.synth.SynthSpec;

/**
 * The shape of the models a benchmark merges. Bench stage (beside the pipeline).
 *
 * @param name         directory name in the cache
 * @param hidden       hidden size
 * @param intermediate MLP intermediate size
 * @param layers       decoder layers
 * @param heads        attention heads
 * @param kvHeads      key/value heads
 * @param vocab        vocabulary size
 * @param tied         whether lm_head shares the embedding (then the embedding is the only vocab-sized tensor)
 */
public record BenchShape(String name, int hidden, int intermediate, int layers, int heads, int kvHeads, int vocab,
                         boolean tied) {

    /** TinyLlama-1.1B: 1,100,048,384 parameters, 2.2 GB in float16. */
    public static final BenchShape TINYLLAMA = new BenchShape("tinyllama-1.1b", 2048, 5632, 22, 32, 4, 32000, false);

    /** A tiny shape for smoke tests: the same tensor names at hidden 256, 2 layers, vocab 1000. */
    public static final BenchShape SMALL = new BenchShape("small", 256, 688, 2, 4, 2, 1000, false);

    /**
     * One 1-billion-element tensor: a tied 256000 × 4096 embedding (1,048,576,000 elements) and a
     * single decoder layer with a narrow MLP.
     */
    public static final BenchShape BIG = new BenchShape("big-vocab256k", 4096, 256, 1, 32, 4, 256000, true);

    /** The big case's smoke-test shape: one embedding much larger than everything else. */
    public static final BenchShape BIG_SMALL = new BenchShape("big-small", 256, 64, 1, 4, 2, 16000, true);

    /** Parameters of one model of this shape (LlamaForCausalLM). */
    public long parameters() {
        long h = hidden;
        long headDim = h / heads;
        long attn = h * h * 2 + 2 * h * headDim * kvHeads;
        long mlp = 3 * h * intermediate;
        long norms = 2 * h;
        long perLayer = attn + mlp + norms;
        long embed = (long) vocab * h;
        return embed * (tied ? 1 : 2) + perLayer * layers + h;
    }

    /** Bytes of tensor data of one model in {@code dtype}. */
    public long bytes(DType dtype) {
        return parameters() * dtype.byteSize();
    }

    /** The spec of a fresh model of this shape. */
    SynthSpec freshSpec(DType dtype, long seed) {
        return new SynthSpec("LlamaForCausalLM", hidden, intermediate, layers, heads, kvHeads, vocab, dtype, 1, tied,
                seed, null, 0.0);
    }
}
