package dev.amalgam.cli;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.exec.RunOptions;
import dev.amalgam.exec.RunSummary;
import dev.amalgam.io.DType;
import dev.amalgam.plan.PlanOptions;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.synth.Synth;
import dev.amalgam.synth.SynthSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code amalgam demo}: the main job on an embedded default — the Excalibur-7b SLERP recipe,
 * verbatim, on two small generated 32-layer Mistral-shaped models at
 * {@code models/merliniteX-blockF2} and {@code models/merliniteX-blockB1} (created when absent).
 * CLI stage.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run the Excalibur-7b SLERP recipe on two small generated 32-layer models.")
public final class DemoCommand implements Callable<Integer> {

    /** The embedded recipe, exactly as on the Excalibur-7b model card. */
    static final String RECIPE_RESOURCE = "excalibur.yml";

    @Spec
    CommandSpec spec;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "out/excalibur-demo",
            description = "Output directory (replaced if it exists). Default: ${DEFAULT-VALUE}.")
    Path out;

    @Option(names = {"-j", "--num-threads"}, paramLabel = "N", description = "Worker threads. Default: all cores.")
    Integer threads;

    @Option(names = "--stacktrace", description = "Show stack traces of errors.")
    boolean stacktrace;

    @Override
    public Integer call() throws IOException {
        PrintWriter w = spec.commandLine().getOut();
        Path f2 = Path.of("models/merliniteX-blockF2");
        Path b1 = Path.of("models/merliniteX-blockB1");
        if (!Files.exists(f2)) {
            Synth.write(new SynthSpec("MistralForCausalLM", 64, 224, 32, 4, 2, 1024, DType.F16, 1, false, 2024L,
                    null, 0.0), f2);
            w.println("generated " + f2);
        }
        if (!Files.exists(b1)) {
            Synth.write(new SynthSpec("MistralForCausalLM", 64, 224, 32, 4, 2, 1024, DType.F16, 1, false, 2025L,
                    f2, 0.01), b1);
            w.println("generated " + b1 + " (" + f2.getFileName() + " plus noise)");
        }
        String text = recipeText();
        Path recipeFile = Path.of("examples/excalibur.yml");
        Recipe r = Files.isRegularFile(recipeFile) && Files.readString(recipeFile).equals(text)
                ? Recipe.parse(recipeFile) : Recipe.parse(text, "excalibur.yml (embedded)");
        RunOptions ro = RunOptions.defaults().withOverwrite(true);
        if (threads != null) {
            ro = ro.withThreads(threads);
        }
        RunSummary s = MergeCommand.run(r, out, PlanOptions.defaults(), ro, spec.commandLine().getErr(), false, 0);
        w.println(Console.summary(s));
        w.println("the merged model is in " + s.output() + " (README.md, config.json, model.safetensors, tokenizer)");
        w.flush();
        return 0;
    }

    static String recipeText() {
        try (InputStream in = DemoCommand.class.getResourceAsStream(RECIPE_RESOURCE)) {
            if (in == null) {
                throw AmalgamException.internal("the embedded recipe is missing from the jar", null);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw AmalgamException.internal("cannot read the embedded recipe", e);
        }
    }
}
