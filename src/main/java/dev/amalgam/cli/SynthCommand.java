package dev.amalgam.cli;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.DType;
import dev.amalgam.synth.Synth;
import dev.amalgam.synth.SynthSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code amalgam synth}: writes a small synthetic Hugging Face model, fresh or derived from a base
 * model by adding noise. CLI stage; a thin shell over {@link Synth}. Errors propagate as
 * {@link AmalgamException} for the main command to render.
 */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = {"Writes a small synthetic Hugging Face model directory (config, safetensors, tokenizer).",
                "With --base, derives a model from an existing one by adding Gaussian noise to its weights."})
public final class SynthCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--arch", paramLabel = "ARCH", defaultValue = "MistralForCausalLM",
            description = "architecture: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, "
                    + "GemmaForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM, Phi3ForCausalLM, StableLmForCausalLM, "
                    + "CohereForCausalLM, GPT2LMHeadModel, GPTNeoXForCausalLM, MixtralForCausalLM (one tensor per "
                    + "expert), MixtralForCausalLM/fused (transformers 5 layout), LlavaForConditionalGeneration, "
                    + "BertForMaskedLM (default: ${DEFAULT-VALUE})")
    String arch;

    @Option(names = "--hidden", paramLabel = "N", defaultValue = "64", description = "hidden size (default: ${DEFAULT-VALUE})")
    int hidden;

    @Option(names = "--intermediate", paramLabel = "N", defaultValue = "128",
            description = "MLP intermediate size (default: ${DEFAULT-VALUE})")
    int intermediate;

    @Option(names = "--layers", paramLabel = "N", defaultValue = "4", description = "decoder layers (default: ${DEFAULT-VALUE})")
    int layers;

    @Option(names = "--heads", paramLabel = "N", defaultValue = "4", description = "attention heads (default: ${DEFAULT-VALUE})")
    int heads;

    @Option(names = "--kv-heads", paramLabel = "N", defaultValue = "2",
            description = "key/value heads (default: ${DEFAULT-VALUE})")
    int kvHeads;

    @Option(names = "--vocab", paramLabel = "N", defaultValue = "512", description = "vocabulary size (default: ${DEFAULT-VALUE})")
    int vocab;

    @Option(names = "--dtype", paramLabel = "DTYPE",
            description = "float16, bfloat16 or float32 (default: float16, or the base model's with --base)")
    String dtype;

    @Option(names = "--shards", paramLabel = "N", defaultValue = "1",
            description = "number of safetensors files (default: ${DEFAULT-VALUE})")
    int shards;

    @Option(names = "--tied", description = "tie lm_head to the input embedding (Gemma always is)")
    boolean tied;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "random seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--base", paramLabel = "DIR",
            description = "derive from this model directory: same names, shapes, config and tokenizer, plus noise")
    Path base;

    @Option(names = "--noise", paramLabel = "STD", defaultValue = "0.002",
            description = "standard deviation of the noise added to the base (default: ${DEFAULT-VALUE})")
    double noise;

    @Parameters(index = "0", paramLabel = "OUT_DIR", description = "output directory (must not exist or be empty)")
    Path out;

    @Override
    public Integer call() {
        DType dt = null;
        if (dtype != null) {
            dt = DType.fromTorchName(dtype);
            if (dt != DType.F16 && dt != DType.BF16 && dt != DType.F32) {
                throw AmalgamException.input("unsupported --dtype '" + dtype + "'", Where.at(null, 0, 0, "--dtype"),
                        "use float16, bfloat16 or float32");
            }
        }
        SynthSpec s = new SynthSpec(arch, hidden, intermediate, layers, heads, kvHeads, vocab, dt, shards, tied, seed,
                base, noise);
        Synth.Result r = Synth.write(s, out);
        long shardFiles = r.files().stream().filter(p -> p.getFileName().toString().endsWith(".safetensors")).count();
        spec.commandLine().getOut().println(String.format(Locale.ROOT,
                "wrote %s%s to %s: %,d parameters, %,d tensor bytes in %d safetensors file%s, %,d bytes in all",
                base == null ? "" : "derived ", r.architecture(), r.dir(), r.parameters(), r.tensorBytes(), shardFiles,
                shardFiles == 1 ? "" : "s", r.fileBytes()));
        return 0;
    }
}
