package dev.amalgam.cli;

import dev.amalgam.exec.Executor;
import dev.amalgam.exec.RunOptions;
import dev.amalgam.exec.RunSummary;
import dev.amalgam.golden.Golden;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.PlanOptions;
import dev.amalgam.plan.Planner;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.io.DType;
import dev.amalgam.io.SafetensorsFile;
import dev.amalgam.io.TensorInfo;
import dev.amalgam.kernel.Codec;
import dev.amalgam.synth.Synth;
import dev.amalgam.synth.SynthSpec;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The seed recipe, verbatim, on a generated 32-layer Mistral-shaped pair: every output tensor
 * against a whole-tensor reference SLERP with the per-layer t of recipe-and-io §1.8.
 */
class ExcaliburTest {

    @TempDir
    static Path work;

    static Path out;
    static RunSummary summary;

    @BeforeAll
    static void merge() throws IOException {
        Path f2 = work.resolve("models/merliniteX-blockF2");
        Path b1 = work.resolve("models/merliniteX-blockB1");
        Synth.write(new SynthSpec("MistralForCausalLM", 32, 48, 32, 4, 2, 96, DType.F16, 2, false, 7L, null, 0),
                f2);
        Synth.write(new SynthSpec("MistralForCausalLM", 32, 48, 32, 4, 2, 96, DType.F16, 1, false, 8L, f2, 0.01),
                b1);
        Path recipe = work.resolve("excalibur.yml");
        Files.writeString(recipe, DemoCommand.recipeText());
        out = work.resolve("Excalibur-mini");
        // the library API with the working directory set to `work`, so that relative model paths
        // resolve there whatever the test process's own working directory holds
        Recipe r = Recipe.parse(recipe);
        try (Plan plan = Planner.plan(r, PlanOptions.defaults().withWorkDir(work))) {
            summary = Executor.run(plan, out, RunOptions.defaults().withThreads(2).withChunk(1000));
        }
    }

    @Test
    void recipeIsTheSeedRecipeVerbatim() throws IOException {
        assertThat(DemoCommand.recipeText()).contains("  - value: 0.5 # fallback for rest of tensors\n")
                .startsWith("slices:\n- sources:\n  - model: models/merliniteX-blockF2\n");
        assertThat(summary.tensors()).isEqualTo(32 * 9 + 3);
        assertThat(Files.readString(out.resolve("mergekit_config.yml"))).isEqualTo(DemoCommand.recipeText());
    }

    @Test
    void everyTensorMatchesTheReferenceSlerp() throws IOException {
        Map<String, DType> dt = new HashMap<>();
        Map<String, float[]> a = Golden.load(work.resolve("models/merliniteX-blockF2"), dt);
        Map<String, float[]> b = Golden.load(work.resolve("models/merliniteX-blockB1"), dt);
        Map<String, float[]> o = Golden.load(out, dt);
        assertThat(o.keySet()).isEqualTo(a.keySet());
        long n = 0;
        long eq = 0;
        for (Map.Entry<String, float[]> e : o.entrySet()) {
            String name = e.getKey();
            assertThat(dt.get(name)).isEqualTo(DType.F16);
            float[] expected = slerp(a.get(name), b.get(name), tFor(name));
            float[] got = e.getValue();
            for (int i = 0; i < got.length; i++) {
                n++;
                if (Float.floatToIntBits(got[i]) == Float.floatToIntBits(expected[i])) {
                    eq++;
                } else {
                    assertThat((double) Math.abs(got[i] - expected[i])).as(name + "[" + i + "]")
                            .isLessThanOrEqualTo(Golden.ulpOf(DType.F16, expected[i]));
                }
            }
        }
        assertThat((double) eq / n).isGreaterThanOrEqualTo(0.999);
    }

    @Test
    void endpointsReproduceTheInputsExactly() throws IOException {
        Map<String, DType> dt = new HashMap<>();
        Map<String, float[]> a = Golden.load(work.resolve("models/merliniteX-blockF2"), dt);
        Map<String, float[]> b = Golden.load(work.resolve("models/merliniteX-blockB1"), dt);
        Map<String, float[]> o = Golden.load(out, dt);
        // layer 0: self_attn t = 1 (the other model), mlp t = 0 (the base); layer 31 the reverse
        assertThat(o.get("model.layers.0.self_attn.q_proj.weight")).isEqualTo(b.get("model.layers.0.self_attn.q_proj.weight"));
        assertThat(o.get("model.layers.0.mlp.up_proj.weight")).isEqualTo(a.get("model.layers.0.mlp.up_proj.weight"));
        assertThat(o.get("model.layers.31.self_attn.o_proj.weight")).isEqualTo(a.get("model.layers.31.self_attn.o_proj.weight"));
        assertThat(o.get("model.layers.31.mlp.down_proj.weight")).isEqualTo(b.get("model.layers.31.mlp.down_proj.weight"));
        assertThat(o.get("model.layers.5.self_attn.q_proj.weight")).isNotEqualTo(a.get("model.layers.5.self_attn.q_proj.weight"));
    }

    @Test
    void configAndCard() throws IOException {
        var cfg = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertThat(cfg.get("num_hidden_layers").asInt()).isEqualTo(32);
        assertThat(cfg.get("dtype").asText()).isEqualTo("float16");
        assertThat(cfg.get("architectures").get(0).asText()).isEqualTo("MistralForCausalLM");
        String card = Files.readString(out.resolve("README.md"));
        assertThat(card).contains("# Excalibur-mini\n", "* models/merliniteX-blockB1\n* models/merliniteX-blockF2\n",
                "[SLERP](https://en.wikipedia.org/wiki/Slerp)").doesNotContain("as a base");
        try (SafetensorsFile f = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            TensorInfo t = f.tensor("lm_head.weight");
            assertThat(t.shape()).containsExactly(96, 32);
        }
    }

    /** The per-tensor t of the recipe (recipe-and-io §1.5, §1.8): gradients over 32 layers. */
    static double tFor(String name) {
        double pos = 0;
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\.layers\\.(\\d+)\\.").matcher(name);
        if (m.find()) {
            pos = Integer.parseInt(m.group(1)) / 31.0;
        }
        if (name.contains("self_attn")) {
            return gradient(new double[]{1, 0.7, 0.3, 0.5, 0}, pos);
        }
        if (name.contains("mlp")) {
            return gradient(new double[]{0, 0.3, 0.7, 0.5, 1}, pos);
        }
        return 0.5;
    }

    static double gradient(double[] k, double t) {
        double scaled = t * (k.length - 1);
        int i0 = (int) Math.floor(scaled);
        int i1 = Math.min(k.length - 1, i0 + 1);
        double frac = scaled - i0;
        return (1 - frac) * k[i0] + frac * k[i1];
    }

    /** Whole-tensor SLERP as merge-methods §3.2 states it, rounded to float16. */
    static float[] slerp(float[] a, float[] b, double t) {
        double sa = 0;
        double sb = 0;
        for (int i = 0; i < a.length; i++) {
            sa += (double) a[i] * a[i];
            sb += (double) b[i] * b[i];
        }
        float na = (float) Math.sqrt(sa);
        float nb = (float) Math.sqrt(sb);
        double dot = 0;
        for (int i = 0; i < a.length; i++) {
            float au = na > 1e-8f ? a[i] / na : a[i];
            float bu = nb > 1e-8f ? b[i] / nb : b[i];
            dot += au * bu;
        }
        float d = (float) dot;
        float s0;
        float s1;
        if (Math.abs(d) > 0.9995f) {
            s0 = (float) (1 - t);
            s1 = (float) t;
        } else {
            float th0 = (float) Math.acos(d);
            float sin0 = (float) Math.sin(th0);
            float tht = th0 * (float) t;
            s0 = (float) Math.sin(th0 - tht) / sin0;
            s1 = (float) Math.sin(tht) / sin0;
        }
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = Codec.round(DType.F16, s0 * a[i] + s1 * b[i]);
        }
        return r;
    }
}
