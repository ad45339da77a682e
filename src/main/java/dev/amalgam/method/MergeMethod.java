package dev.amalgam.method;

import dev.amalgam.io.DType;

import java.util.List;

/**
 * A merge method as a recipe names it: its parameters, how it uses the base model, and a
 * factory for the per-tensor computation. Part of the method stage; implementations are small
 * final classes listed in {@link Methods}.
 */
public interface MergeMethod {

    /** How a method relates to {@code base_model}. */
    enum BaseRule {
        /** The method ignores the base model (it is merged like any other input if listed). */
        UNUSED,
        /** A base model is optional. */
        OPTIONAL,
        /** The recipe must name a base model. */
        REQUIRED
    }

    /** The {@code merge_method} value. */
    String name();

    /** The name used in the model card. */
    String prettyName();

    /** The paper or reference the model card links to, or null. */
    String referenceUrl();

    /** Parameters resolved once per output tensor. */
    List<ParamSpec> globalParameters();

    /** Parameters resolved once per output tensor and input model. */
    List<ParamSpec> perModelParameters();

    BaseRule baseRule();

    /**
     * Checks that the operands fit the method (count, base model), for one output tensor.
     *
     * @return null when fine, else a message saying what is wrong (the planner adds location and hint)
     */
    default String checkOperands(int operands, int baseIndex) {
        return null;
    }

    /**
     * A hint for the message {@link #checkOperands} returned, or null.
     */
    default String operandHint() {
        return null;
    }

    /**
     * Checks the resolved parameters of one output tensor (ranges, sums).
     *
     * @return null when fine, else a message saying what is wrong
     */
    default String checkParameters(MergeContext ctx) {
        return null;
    }

    /**
     * The dtype the method's result has for a given working dtype (mergekit's ramplus_tl and
     * arcee_fusion return float32); it is written unless {@code out_dtype} says otherwise.
     */
    default DType resultDtype(DType work) {
        return work;
    }

    /**
     * How many random words mergekit's generator would draw for this tensor (DARE and DELLA:
     * {@code numel} per sparsified model); the {@code --rng mergekit} mode advances its stream by
     * this much per tensor.
     */
    default long randomWords(MergeContext ctx) {
        return 0;
    }

    /** True when one operand and no arithmetic means the input bytes can be copied verbatim. */
    default boolean isIdentity(MergeContext ctx) {
        return false;
    }

    /** The computation for one output tensor. */
    TensorMerge prepare(MergeContext ctx);
}
