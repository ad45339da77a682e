package dev.amalgam.recipe;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Gradients, filters and the coercions of spec §1.4–1.5. */
class SettingTest {

    private static Setting.Gradient gradient(double... knots) {
        return new Setting.Gradient(knots, Where.NONE);
    }

    /** The global parameter {@code p} of a one-model recipe whose parameters block is {@code yaml}. */
    private static Setting param(String yaml) {
        Recipe r = Recipe.parse("merge_method: linear\nmodels:\n  - model: a\nparameters:\n  p: " + yaml + "\n", "r.yml");
        return r.parameters().get("p");
    }

    @Test
    void oneKnotIsConstant() {
        Setting g = gradient(0.3);
        assertThat(g.evaluate("x", 0)).isEqualTo(0.3);
        assertThat(g.evaluate("x", 0.5)).isEqualTo(0.3);
        assertThat(g.evaluate("x", 1)).isEqualTo(0.3);
    }

    @Test
    void tOneGivesTheLastKnot() {
        assertThat(gradient(1, 0.7, 0.3, 0.5, 0.25).evaluate("x", 1)).isEqualTo(0.25);
        assertThat(gradient(0.2, 0.9).evaluate("x", 1)).isEqualTo(0.9);
    }

    @Test
    void twoKnotsInterpolateLinearly() {
        Setting g = gradient(0.1, 0.9);
        assertThat(g.evaluate("x", 0)).isEqualTo(0.1);
        assertThat(g.evaluate("x", 0.5)).isCloseTo(0.5, within(1e-15));
        assertThat(g.evaluate("x", 0.25)).isEqualTo(0.75 * 0.1 + 0.25 * 0.9);
    }

    @Test
    void tOutsideTheUnitIntervalIsABug() {
        assertThatThrownBy(() -> gradient(0, 1).evaluate("x", 1.5))
                .isInstanceOfSatisfying(AmalgamException.class,
                        e -> assertThat(e.kind()).isEqualTo(AmalgamException.Kind.INTERNAL));
    }

    @Test
    void gradientKnotsAreCopied() {
        double[] knots = {1, 2};
        Setting.Gradient g = new Setting.Gradient(knots, Where.NONE);
        knots[0] = 5;
        g.knots()[1] = 7;
        assertThat(g.knots()).containsExactly(1, 2);
        assertThat(g).isEqualTo(gradient(1, 2));
    }

    @Test
    void filterIsAPlainSubstring() {
        Setting s = new Setting.Conditionals(List.of(
                new Setting.Conditional("layers.1.", new Setting.Scalar(1, Where.NONE), Where.NONE)), Where.NONE);
        assertThat(s.evaluate("model.layers.1.mlp.up_proj.weight", 0)).isEqualTo(1.0);
        assertThat(s.evaluate("model.layers.10.mlp.up_proj.weight", 0)).isNull();
        assertThat(s.evaluate("model.layers.11.mlp.up_proj.weight", 0)).isNull();
        assertThat(s.evaluate("", 0)).isNull();
        assertThat(s.evaluate(null, 0)).isNull();
    }

    @Test
    void filterIsCaseSensitiveAndNotARegex() {
        Setting s = param("[{filter: MLP, value: 1}, {filter: 'self_.*', value: 2}, {filter: '*', value: 3}]");
        assertThat(s.evaluate("model.layers.0.mlp.up_proj.weight", 0)).isEqualTo(3.0);
        assertThat(s.evaluate("model.layers.0.self_attn.q_proj.weight", 0)).isEqualTo(3.0);
        assertThat(s.evaluate("", 0)).isEqualTo(3.0);
    }

    @Test
    void firstMatchingConditionalWins() {
        Setting s = param("[{filter: mlp, value: [0, 1]}, {filter: up_proj, value: 7}, {value: 0.5}]");
        assertThat(s.evaluate("model.layers.0.mlp.up_proj.weight", 1)).isEqualTo(1.0);
        assertThat(s.evaluate("model.layers.0.self_attn.q_proj.weight", 1)).isEqualTo(0.5);
    }

    @Test
    void noMatchingConditionalGivesNull() {
        assertThat(param("[{filter: mlp, value: 1}]").evaluate("model.norm.weight", 0)).isNull();
    }

    @Test
    void booleansBecomeOneAndZero() {
        assertThat(param("true")).isEqualTo(new Setting.Scalar(1.0, param("true").where()));
        assertThat(param("false").evaluate("x", 0)).isEqualTo(0.0);
        assertThat(param("yes").evaluate("x", 0)).isEqualTo(1.0);
        assertThat(param("off").evaluate("x", 0)).isEqualTo(0.0);
    }

    @Test
    void numericStringsAreNumbers() {
        assertThat(param("\"0.5\"").evaluate("x", 0)).isEqualTo(0.5);
        assertThat(param("'1e-3'").evaluate("x", 0)).isEqualTo(1e-3);
        assertThat(param("['0.25', 1]").evaluate("x", 0)).isEqualTo(0.25);
    }

    @Test
    void yaml11Numbers() {
        assertThat(param("1e-5").evaluate("x", 0)).isEqualTo(1e-5);
        assertThat(param("1.0e-6").evaluate("x", 0)).isEqualTo(1e-6);
        assertThat(param("1").evaluate("x", 0)).isEqualTo(1.0);
        assertThat(param("0x10").evaluate("x", 0)).isEqualTo(16.0);
        assertThat(param("1_000").evaluate("x", 0)).isEqualTo(1000.0);
        assertThat(param("-.5").evaluate("x", 0)).isEqualTo(-0.5);
        assertThat(param(".inf").evaluate("x", 0)).isEqualTo(Double.POSITIVE_INFINITY);
    }

    @Test
    void booleanListIsAGradient() {
        Setting s = param("[true, false]");
        assertThat(s).isInstanceOf(Setting.Gradient.class);
        assertThat(((Setting.Gradient) s).knots()).containsExactly(1.0, 0.0);
        assertThat(s.evaluate("x", 0.5)).isEqualTo(0.5);
    }

    @Test
    void conditionalValuesAreScalarsOrGradients() {
        Setting s = param("\n    - filter: mlp\n      value: [0.3, 0.9]\n    - value: 1.0\n");
        assertThat(s).isInstanceOfSatisfying(Setting.Conditionals.class, c -> {
            assertThat(c.entries()).hasSize(2);
            assertThat(c.entries().get(0).filter()).isEqualTo("mlp");
            assertThat(c.entries().get(0).value()).isInstanceOf(Setting.Gradient.class);
            assertThat(c.entries().get(1).filter()).isNull();
            assertThat(c.entries().get(1).value()).isInstanceOf(Setting.Scalar.class);
        });
        assertThat(s.where().line()).isEqualTo(6);
        assertThat(s.where().keyPath()).isEqualTo("parameters.p");
    }
}
