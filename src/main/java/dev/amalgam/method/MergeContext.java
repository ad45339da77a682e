package dev.amalgam.method;

import dev.amalgam.io.DType;

import java.util.List;
import java.util.Map;

/**
 * Everything a merge method knows about one output tensor before it sees data: its name and
 * shape, the working dtype, which operand is the base model, and the resolved parameters. Part
 * of the method stage; built by the planner, handed to {@link MergeMethod#prepare}.
 *
 * @param tensorName  output tensor name
 * @param shape       output shape, e.g. (vocab, hidden)
 * @param workDtype   the working dtype D: every op rounds its result to it (merge-methods §2)
 * @param baseIndex   index of the base model among the operands, or -1
 * @param globals     global parameters by name (null values: unset)
 * @param perModel    per-model parameters, one map per operand in recipe order
 * @param seed        the run's random seed; methods that draw random numbers key their streams by
 *                    (seed, tensor name, element index), so results do not depend on threads or chunks
 */
public record MergeContext(String tensorName, long[] shape, DType workDtype, int baseIndex,
                           Map<String, Double> globals, List<Map<String, Double>> perModel, long seed) {

    /** The length of the last dimension (1 for scalars). */
    public long rowLength() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    public int operands() {
        return perModel.size();
    }

    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public Double global(String name) {
        return globals.get(name);
    }

    public Double param(int operand, String name) {
        return perModel.get(operand).get(name);
    }

    public boolean flag(String name) {
        Double v = globals.get(name);
        return v != null && v != 0.0;
    }
}
