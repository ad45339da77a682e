package dev.amalgam.method;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;

/**
 * Small helpers the method stage's base-relative methods share: which operands are the models
 * besides the base, and the rounding of a wide reduction.
 */
final class Operands {

    private Operands() {
    }

    /** The operand indices other than {@code base}, in recipe order. */
    static int[] others(int operands, int base) {
        int[] o = new int[base >= 0 && base < operands ? operands - 1 : operands];
        for (int k = 0, j = 0; k < operands; k++) {
            if (k != base) {
                o[j++] = k;
            }
        }
        return o;
    }

    /** A reduction accumulated in double, rounded once to float32 and then to {@code d}. */
    static float reduced(DType d, double acc) {
        return Codec.round(d, (float) acc);
    }

    /** A Python scalar as an add, subtract, compare or clamp operand: rounded to {@code d}. */
    static float scalar(DType d, double s) {
        return Codec.round(d, (float) s);
    }
}
