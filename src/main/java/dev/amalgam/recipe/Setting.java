package dev.amalgam.recipe;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * One parameter value as a recipe writes it: a scalar, a gradient (a list of knots interpolated
 * over the layer position {@code t}), or a list of conditionals chosen by tensor-name filter.
 * Part of the recipe stage; {@link #evaluate} is mergekit's {@code evaluate_setting}.
 */
public sealed interface Setting permits Setting.Scalar, Setting.Gradient, Setting.Conditionals {

    /** Where the value was written. */
    Where where();

    /**
     * The value for one tensor at layer position {@code t} in [0, 1], or null when this is a list
     * of conditionals none of whose filters matches {@code tensorName} ("not set at this level").
     */
    Double evaluate(String tensorName, double t);

    /** A plain number; booleans are 1.0 / 0.0. */
    record Scalar(double value, Where where) implements Setting {

        @Override
        public Double evaluate(String tensorName, double t) {
            return value;
        }
    }

    /**
     * Knots equally spaced over t in [0, 1], knot k at t = k/(n-1), linearly interpolated in
     * double arithmetic in exactly mergekit's order so that results agree bit for bit:
     * {@code scaled = t*(n-1); i0 = floor(scaled); i1 = min(n-1, i0+1); frac = scaled-i0;
     * value = (1-frac)*k[i0] + frac*k[i1]}. One knot is a constant.
     */
    record Gradient(double[] knots, Where where) implements Setting {

        public Gradient {
            Objects.requireNonNull(knots, "knots");
            if (knots.length == 0) {
                throw AmalgamException.internal("a gradient needs at least one knot", null);
            }
            knots = knots.clone();
        }

        @Override
        public double[] knots() {
            return knots.clone();
        }

        @Override
        public Double evaluate(String tensorName, double t) {
            if (!(t >= 0.0 && t <= 1.0)) {
                throw AmalgamException.internal(
                        String.format(Locale.ROOT, "gradient evaluated at t=%s, outside [0, 1]", t), null);
            }
            int n = knots.length;
            double scaled = t * (n - 1);
            int i0 = (int) Math.floor(scaled);
            int i1 = Math.min(n - 1, i0 + 1);
            double frac = scaled - i0;
            return (1 - frac) * knots[i0] + frac * knots[i1];
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Gradient g && Arrays.equals(knots, g.knots) && Objects.equals(where, g.where);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(knots) + Objects.hashCode(where);
        }

        @Override
        public String toString() {
            return "Gradient" + Arrays.toString(knots);
        }
    }

    /** Conditionals scanned in order; the first whose filter matches the tensor name wins. */
    record Conditionals(List<Conditional> entries, Where where) implements Setting {

        public Conditionals {
            entries = List.copyOf(entries);
        }

        @Override
        public Double evaluate(String tensorName, double t) {
            for (Conditional c : entries) {
                if (c.matches(tensorName)) {
                    return c.value().evaluate(tensorName, t);
                }
            }
            return null;
        }
    }

    /**
     * One {@code {filter, value}} entry. A null filter or {@code "*"} matches every tensor;
     * otherwise the filter is a plain, case-sensitive substring of a non-empty tensor name (no
     * regex, no glob), so {@code layers.1.} matches layer 1 and not layer 10.
     *
     * @param value a {@link Scalar} or a {@link Gradient}; conditionals do not nest
     */
    record Conditional(String filter, Setting value, Where where) {

        public Conditional {
            if (!(value instanceof Scalar) && !(value instanceof Gradient)) {
                throw AmalgamException.internal("a conditional's value must be a scalar or a gradient", null);
            }
        }

        public boolean matches(String tensorName) {
            return filter == null || filter.equals("*")
                    || (tensorName != null && !tensorName.isEmpty() && tensorName.contains(filter));
        }
    }
}
