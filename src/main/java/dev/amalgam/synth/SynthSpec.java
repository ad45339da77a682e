package dev.amalgam.synth;

import dev.amalgam.io.DType;

import java.nio.file.Path;

/**
 * What {@link Synth} should write: a fresh random model of a given shape, or a model derived from
 * an existing one by adding noise. Part of the synth tool, which makes tiny real Hugging Face
 * models for tests, demos and pipeline checks.
 *
 * <p>For a fresh model every field but {@code base} and {@code noise} applies. For a derived model
 * ({@code base} non-null) the architecture and sizes come from the base model and are ignored here;
 * {@code dtype} (null keeps the base's), {@code shards}, {@code seed} and {@code noise} apply.
 *
 * @param architecture  Hugging Face architecture, e.g. {@code MistralForCausalLM}; see
 *                      {@link Synth#SUPPORTED_ARCHITECTURES}
 * @param hidden        hidden size
 * @param intermediate  MLP intermediate size
 * @param layers        number of decoder layers
 * @param heads         attention heads (must divide {@code hidden})
 * @param kvHeads       key/value heads (must divide {@code heads})
 * @param vocab         vocabulary size (at least 4: three special tokens and one more)
 * @param dtype         stored dtype (F16, BF16 or F32); null means F16, or the base's for a derived model
 * @param shards        number of safetensors files (1 writes {@code model.safetensors} and no index)
 * @param tied          whether the output embedding shares the input embedding (no {@code lm_head.weight});
 *                      Gemma is always tied
 * @param seed          seed of the random values; the same seed gives byte-identical files
 * @param base          model directory to derive from, or null for a fresh model
 * @param noise         standard deviation of the Gaussian noise added to the base's values
 */
public record SynthSpec(String architecture, int hidden, int intermediate, int layers, int heads, int kvHeads,
        int vocab, DType dtype, int shards, boolean tied, long seed, Path base, double noise) {

    /** A tiny fresh model of the given architecture: hidden 64, intermediate 128, 2 layers, 4 heads, 2 KV heads, vocab 256, F16. */
    public static SynthSpec tiny(String architecture) {
        return new SynthSpec(architecture, 64, 128, 2, 4, 2, 256, DType.F16, 1, false, 0L, null, 0.0);
    }

    /** A model derived from {@code base} by adding N(0, noise²) to every floating-point value. */
    public static SynthSpec derived(Path base, double noise, long seed) {
        return new SynthSpec(null, 0, 0, 0, 0, 0, 0, null, 1, false, seed, base, noise);
    }

    public SynthSpec withDtype(DType d) {
        return new SynthSpec(architecture, hidden, intermediate, layers, heads, kvHeads, vocab, d, shards, tied, seed, base, noise);
    }

    public SynthSpec withShards(int n) {
        return new SynthSpec(architecture, hidden, intermediate, layers, heads, kvHeads, vocab, dtype, n, tied, seed, base, noise);
    }

    public SynthSpec withTied(boolean t) {
        return new SynthSpec(architecture, hidden, intermediate, layers, heads, kvHeads, vocab, dtype, shards, t, seed, base, noise);
    }

    public SynthSpec withSeed(long s) {
        return new SynthSpec(architecture, hidden, intermediate, layers, heads, kvHeads, vocab, dtype, shards, tied, s, base, noise);
    }

    public SynthSpec withLayers(int n) {
        return new SynthSpec(architecture, hidden, intermediate, n, heads, kvHeads, vocab, dtype, shards, tied, seed, base, noise);
    }
}
