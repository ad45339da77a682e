package dev.amalgam.recipe;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Parameter precedence of spec §1.7: source, slice, module, global, with null fall-through. */
class ParameterResolverTest {

    private static final ModelRef A = ModelRef.of("models/ft-a");
    private static final ModelRef B = ModelRef.of("models/ft-b");
    private static final ModelRef C = ModelRef.of("models/ft-c");
    private static final String ATTN = "model.layers.1.self_attn.q_proj.weight";
    private static final String MLP = "model.layers.1.mlp.up_proj.weight";
    private static final String NORM = "model.layers.1.input_layernorm.weight";

    /** What the planner does for the {@code models:} form: one slice whose sources carry the models' parameters. */
    private static OutputSlice modelsAsSlice(Recipe r, int layers) {
        List<InputSlice> sources = new ArrayList<>();
        for (InputModel m : r.models()) {
            sources.add(new InputSlice(m.model(), 0, layers, m.parameters(), m.where(), null));
        }
        if (r.models().stream().noneMatch(m -> m.model().equals(r.baseModel()))) {
            sources.add(new InputSlice(r.baseModel(), 0, layers, ParameterSet.EMPTY, null, null));
        }
        return new OutputSlice(sources, null, null, ParameterSet.EMPTY, null);
    }

    @Test
    void sourceBeatsSliceBeatsGlobal() {
        Recipe r = Recipes.load("golden/slices-source-params.yml");
        OutputSlice first = r.slices().get(0);
        OutputSlice second = r.slices().get(1);
        assertThat(ParameterResolver.perModel("weight", A, first, null, r, MLP, 0)).isEqualTo(0.25);
        assertThat(ParameterResolver.perModel("weight", B, first, null, r, MLP, 1)).isEqualTo(0.75);
        assertThat(ParameterResolver.perModel("weight", A, second, null, r, MLP, 0)).isCloseTo(0.1, within(1e-15));
        assertThat(ParameterResolver.perModel("weight", B, second, null, r, MLP, 1)).isEqualTo(0.9);
        assertThat(ParameterResolver.perModel("weight", A, second, null, r, ATTN, 1)).isEqualTo(0.5);
        assertThat(ParameterResolver.perModel("weight", C, first, null, r, ATTN, 0)).isEqualTo(1.0);
    }

    @Test
    void globalParametersNeverLookAtSources() {
        Recipe r = Recipes.load("golden/slices-source-params.yml");
        assertThat(ParameterResolver.global("weight", r.slices().get(0), null, r, MLP, 0)).isEqualTo(1.0);
        assertThat(ParameterResolver.global("weight", r.slices().get(1), null, r, MLP, 1)).isEqualTo(0.9);
        assertThat(ParameterResolver.global("normalize", r.slices().get(0), null, r, MLP, 0)).isNull();
    }

    @Test
    void modelsFormGradientsAndFilters() {
        Recipe r = Recipes.load("golden/models-gradients-filters.yml");
        OutputSlice slice = modelsAsSlice(r, 4);
        assertThat(slice.sources()).extracting(InputSlice::model)
                .containsExactly(A, C, ModelRef.of("models/base"));
        assertThat(ParameterResolver.perModel("weight", A, slice, null, r, ATTN, 0.5)).isEqualTo(0.5);
        assertThat(ParameterResolver.perModel("weight", A, slice, null, r, ATTN, 0.25)).isCloseTo(0.35, within(1e-15));
        assertThat(ParameterResolver.perModel("weight", C, slice, null, r, ATTN, 0.25)).isCloseTo(0.65, within(1e-15));
        assertThat(ParameterResolver.perModel("weight", A, slice, null, r, MLP, 0.25)).isCloseTo(0.7, within(1e-15));
        assertThat(ParameterResolver.perModel("weight", A, slice, null, r, NORM, 0.25)).isEqualTo(0.5);
        assertThat(ParameterResolver.perModel("weight", ModelRef.of("models/base"), slice, null, r, NORM, 0)).isNull();
        assertThat(ParameterResolver.perModel("density", A, slice, null, r, ATTN, 0.5)).isEqualTo(0.6);
        assertThat(ParameterResolver.perModel("density", C, slice, null, r, MLP, 0.5)).isCloseTo(0.6, within(1e-15));
        assertThat(ParameterResolver.perModel("density", A, slice, null, r, "model.embed_tokens.weight", 0)).isEqualTo(1.0);
        assertThat(ParameterResolver.global("normalize", slice, null, r, ATTN, 0.5)).isEqualTo(0.0);
    }

    @Test
    void unmatchedConditionalFallsThrough() {
        Recipe r = Recipe.parse("""
                merge_method: linear
                slices:
                  - sources:
                      - model: a
                        layer_range: [0, 4]
                        parameters:
                          weight:
                            - filter: self_attn
                              value: 0.1
                      - model: b
                        layer_range: [0, 4]
                    parameters:
                      weight:
                        - filter: mlp
                          value: 0.2
                parameters:
                  weight: 0.3
                """, "r.yml");
        OutputSlice s = r.slices().getFirst();
        ModelRef a = ModelRef.of("a");
        assertThat(ParameterResolver.perModel("weight", a, s, null, r, ATTN, 0)).isEqualTo(0.1);
        assertThat(ParameterResolver.perModel("weight", a, s, null, r, MLP, 0)).isEqualTo(0.2);
        assertThat(ParameterResolver.perModel("weight", a, s, null, r, NORM, 0)).isEqualTo(0.3);
        assertThat(ParameterResolver.global("weight", s, null, r, ATTN, 0)).isEqualTo(0.3);
        assertThat(ParameterResolver.whereOf("weight", a, s, null, r).line()).isEqualTo(8);
        assertThat(ParameterResolver.whereOf("weight", null, s, null, r).keyPath()).isEqualTo("slices[0].parameters.weight");
        assertThat(ParameterResolver.whereOf("density", a, s, null, r)).isNull();
    }

    @Test
    void firstSourceWithTheModelWins() {
        Recipe r = Recipe.parse("""
                merge_method: passthrough
                slices:
                  - sources:
                      - model: a
                        layer_range: [0, 2]
                        parameters: {other: 5}
                      - model: a
                        layer_range: [2, 4]
                        parameters: {scale: 2}
                """, "r.yml");
        OutputSlice s = r.slices().getFirst();
        assertThat(ParameterResolver.perModel("other", ModelRef.of("a"), s, null, r, NORM, 0)).isEqualTo(5.0);
        assertThat(ParameterResolver.perModel("scale", ModelRef.of("a"), s, null, r, NORM, 0)).isNull();
    }

    @Test
    void moduleLevelSitsBetweenSliceAndGlobal() {
        Recipe r = Recipe.parse("""
                merge_method: linear
                modules:
                  text_decoder:
                    models:
                      - model: a
                        parameters: {weight: 0.7}
                      - model: b
                    parameters:
                      weight: 0.4
                      normalize: false
                  vision_tower:
                    slices:
                      - sources:
                          - model: a
                            layer_range: [0, 2]
                parameters:
                  weight: 0.9
                  normalize: true
                """, "r.yml");
        OutputModule text = r.modules().get("text_decoder");
        OutputModule vision = r.modules().get("vision_tower");
        assertThat(r.modules().keySet()).containsExactly("text_decoder", "vision_tower");
        List<InputSlice> sources = text.models().stream()
                .map(m -> new InputSlice(m.model(), 0, 2, m.parameters(), m.where(), null)).toList();
        OutputSlice slice = new OutputSlice(sources, null, null, null, null);
        assertThat(ParameterResolver.perModel("weight", ModelRef.of("a"), slice, text, r, NORM, 0)).isEqualTo(0.7);
        assertThat(ParameterResolver.perModel("weight", ModelRef.of("b"), slice, text, r, NORM, 0)).isEqualTo(0.4);
        assertThat(ParameterResolver.global("normalize", slice, text, r, NORM, 0)).isEqualTo(0.0);
        OutputSlice vslice = vision.slices().getFirst();
        assertThat(ParameterResolver.perModel("weight", ModelRef.of("a"), vslice, vision, r, NORM, 0)).isEqualTo(0.9);
        assertThat(ParameterResolver.global("normalize", vslice, vision, r, NORM, 0)).isEqualTo(1.0);
        assertThat(ParameterResolver.whereOf("normalize", null, slice, text, r).keyPath())
                .isEqualTo("modules.text_decoder.parameters.normalize");
        assertThat(r.referencedModels()).containsExactly(ModelRef.of("a"), ModelRef.of("b"));
    }
}
