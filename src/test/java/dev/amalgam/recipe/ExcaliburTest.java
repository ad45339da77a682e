package dev.amalgam.recipe;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The worked example of spec §1.8: a 32-layer slerp with filtered t gradients. */
class ExcaliburTest {

    /** §1.8's full table: {self_attn, mlp} for layers 0..31, to six decimals. */
    private static final double[][] TABLE = {
            {1.000000, 0.000000}, {0.961290, 0.038710}, {0.922581, 0.077419}, {0.883871, 0.116129},
            {0.845161, 0.154839}, {0.806452, 0.193548}, {0.767742, 0.232258}, {0.729032, 0.270968},
            {0.687097, 0.312903}, {0.635484, 0.364516}, {0.583871, 0.416129}, {0.532258, 0.467742},
            {0.480645, 0.519355}, {0.429032, 0.570968}, {0.377419, 0.622581}, {0.325806, 0.674194},
            {0.312903, 0.687097}, {0.338710, 0.661290}, {0.364516, 0.635484}, {0.390323, 0.609677},
            {0.416129, 0.583871}, {0.441935, 0.558065}, {0.467742, 0.532258}, {0.493548, 0.506452},
            {0.451613, 0.548387}, {0.387097, 0.612903}, {0.322581, 0.677419}, {0.258065, 0.741935},
            {0.193548, 0.806452}, {0.129032, 0.870968}, {0.064516, 0.935484}, {0.000000, 1.000000},
    };

    private static Recipe recipe;
    private static OutputSlice slice;

    @BeforeAll
    static void parse() {
        recipe = Recipes.load("excalibur.yml");
        slice = recipe.slices().getFirst();
    }

    private static double t(String tensor, double layerT) {
        Double v = ParameterResolver.global("t", slice, null, recipe, tensor, layerT);
        assertThat(v).as("t for %s", tensor).isNotNull();
        return v;
    }

    private static String layer(String format, int i) {
        return String.format(Locale.ROOT, format, i);
    }

    @Test
    void parsesTheRecipe() {
        assertThat(recipe.mergeMethod()).isEqualTo("slerp");
        assertThat(recipe.dtype()).isEqualTo("float16");
        assertThat(recipe.baseModel()).isEqualTo(ModelRef.of("models/merliniteX-blockF2"));
        assertThat(recipe.models()).isNull();
        assertThat(recipe.modules()).isNull();
        assertThat(slice.sources()).extracting(InputSlice::start, InputSlice::end)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(0, 32), org.assertj.core.groups.Tuple.tuple(0, 32));
        assertThat(recipe.referencedModels()).containsExactly(
                ModelRef.of("models/merliniteX-blockF2"), ModelRef.of("models/merliniteX-blockB1"));
        assertThat(recipe.sourceText()).contains("- value: 0.5 # fallback for rest of tensors");
        assertThat(recipe.warnings()).isEmpty();
    }

    @Test
    void everyLayerMatchesTheTable() {
        for (int i = 0; i < 32; i++) {
            double t = i / 31.0;
            assertThat(t(layer("model.layers.%d.self_attn.q_proj.weight", i), t)).as("self_attn layer %d", i)
                    .isCloseTo(TABLE[i][0], within(1e-6));
            assertThat(t(layer("model.layers.%d.self_attn.o_proj.weight", i), t)).as("o_proj layer %d", i)
                    .isCloseTo(TABLE[i][0], within(1e-6));
            assertThat(t(layer("model.layers.%d.mlp.up_proj.weight", i), t)).as("mlp layer %d", i)
                    .isCloseTo(TABLE[i][1], within(1e-6));
            assertThat(t(layer("model.layers.%d.mlp.down_proj.weight", i), t)).as("down_proj layer %d", i)
                    .isCloseTo(TABLE[i][1], within(1e-6));
            assertThat(t(layer("model.layers.%d.input_layernorm.weight", i), t)).isEqualTo(0.5);
            assertThat(t(layer("model.layers.%d.post_attention_layernorm.weight", i), t)).isEqualTo(0.5);
        }
    }

    @Test
    void exactFractions() {
        assertThat(t("model.layers.1.self_attn.k_proj.weight", 1 / 31.0)).isCloseTo(149.0 / 155, within(1e-12));
        assertThat(t("model.layers.1.mlp.gate_proj.weight", 1 / 31.0)).isCloseTo(6.0 / 155, within(1e-12));
        assertThat(t("model.layers.8.self_attn.k_proj.weight", 8 / 31.0)).isCloseTo(213.0 / 310, within(1e-12));
        assertThat(t("model.layers.8.mlp.gate_proj.weight", 8 / 31.0)).isCloseTo(97.0 / 310, within(1e-12));
        assertThat(t("model.layers.16.self_attn.k_proj.weight", 16 / 31.0)).isCloseTo(97.0 / 310, within(1e-12));
        assertThat(t("model.layers.16.mlp.gate_proj.weight", 16 / 31.0)).isCloseTo(213.0 / 310, within(1e-12));
        assertThat(t("model.layers.0.self_attn.v_proj.weight", 0)).isEqualTo(1.0);
        assertThat(t("model.layers.31.mlp.up_proj.weight", 1)).isEqualTo(1.0);
    }

    @Test
    void arithmeticIsInMergekitsOrder() {
        double scaled = (8 / 31.0) * 4;
        double frac = scaled - 1;
        double expected = (1 - frac) * 0.7 + frac * 0.3;
        assertThat(t("model.layers.8.self_attn.q_proj.weight", 8 / 31.0)).isEqualTo(expected);
    }

    @Test
    void preAndPostWeightsTakeTheFallbackAtTZero() {
        assertThat(t("model.embed_tokens.weight", 0)).isEqualTo(0.5);
        assertThat(t("model.norm.weight", 0)).isEqualTo(0.5);
        assertThat(t("lm_head.weight", 0)).isEqualTo(0.5);
    }
}
