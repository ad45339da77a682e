package dev.amalgam.method;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Generalized task arithmetic: one parameterised merge method for mergekit's eight task-vector
 * methods ({@code task_arithmetic}, {@code ties}, {@code dare_ties}, {@code dare_linear},
 * {@code breadcrumbs}, {@code breadcrumbs_ties}, {@code della}, {@code della_linear}), which
 * differ only in how they sparsify the task vectors, whether they elect a sign, and the defaults
 * of {@code normalize} and {@code rescale}. Method stage; {@link TaskArithmeticMerge} streams one
 * tensor.
 *
 * <pre>
 *   δ_m   = R(x_m - base)                      for each non-base model m, in recipe order
 *   δ_m   = sparsify(δ_m, density_m)           none | magnitude | random | outliers | DELLA, below
 *   w_m   = R(weight_m);  wd_m = R(δ_m · w_m)
 *   sign consensus ("sum"):  maj = R(Σ_m wd_m) ≥ 0 ? +1 : -1;  keep_m = sign(wd_m) == maj
 *       mixed = R(Σ_m wd_m·keep_m),  div = R(Σ_m w_m·keep_m), 0 replaced by 1 (per element)
 *   none:  mixed = R(Σ_m wd_m),  div = R(Σ_m w_m), replaced by 1 when |div| &lt; 1e-8
 *   if normalize: mixed = R(mixed / div);   if lambda ≠ 1: mixed = R(mixed · lambda)
 *   out = R(base + mixed)
 * </pre>
 * Sparsification, applied only when {@code density < 1}, with {@code k = int(density · numel)}
 * (a double multiply, truncated):
 * <ul>
 *   <li>magnitude (TIES): keep the k elements of largest |δ|;</li>
 *   <li>magnitude outliers (breadcrumbs): drop the {@code int(gamma · numel)} largest |δ| and
 *       the smallest, keeping k (fewer top drops if there are not enough small ones);</li>
 *   <li>random (DARE): keep each element with probability {@code density};</li>
 *   <li>rank-magnitude sampling (DELLA): within each row, keep with a probability rising
 *       linearly with the |δ| rank from {@code density - epsilon} to {@code density + epsilon}.</li>
 * </ul>
 * With {@code rescale}, the kept values are multiplied by {@code ‖δ‖₁ / ‖kept‖₁} over the whole
 * tensor (mergekit's L1 rescale, not DARE's 1/p), unless either norm is below 1e-7. Rounding to
 * the working dtype D follows merge-methods §2 and §3.6–3.7 step by step; random and DELLA
 * sparsify in float32 for fp16 and f32 and in bf16 for bf16, as torch's CPU code does.
 *
 * <p>Papers: task arithmetic https://arxiv.org/abs/2212.04089, TIES https://arxiv.org/abs/2306.01708,
 * DARE https://arxiv.org/abs/2311.03099, breadcrumbs https://arxiv.org/abs/2312.06795, DELLA
 * https://arxiv.org/abs/2406.11617.
 *
 * <p>Selection order: magnitudes are ranked by |δ| and, among equal magnitudes, the lower flat
 * index ranks higher (counts as larger). TIES keeps the first k in that order, breadcrumbs the
 * band after the first {@code int(gamma · numel)}, DELLA's rank follows it within each row.
 * Selection is a histogram radix select ({@link MagnitudeSelector}), never a sort of the tensor.
 *
 * <p>Deviation: mergekit breaks magnitude ties with torch's unstable, CPU-specific sort, so
 * elements tied at a TIES or breadcrumbs threshold (or DELLA ranks of equal magnitudes) may be
 * chosen differently; everything else agrees.
 *
 * <p>Deviation: DARE and DELLA draw from {@link KeyedRandom}, keyed by (seed, tensor name, operand,
 * element), not from torch's MT19937 stream consumed in tensor-name order; masks are equally
 * distributed but not identical to mergekit's, and do not depend on threads or chunk size.
 *
 * <p>Deviation: breadcrumbs with {@code int(gamma · numel) == 0} drops no large outliers and
 * keeps the k largest |δ|; mergekit's empty Python slice {@code order[n_bot:-0]} zeroes the
 * whole task vector instead (so, at the default gamma 0.01, every tensor under 100 elements,
 * such as a small norm, loses its task vector).
 *
 * <p>Deviation: TIES with {@code int(density · numel) == 0} keeps nothing; mergekit fails an
 * assertion.
 *
 * <p>Deviation: in fp16 the no-consensus guard {@code |div| < 1e-8} is compared in float32, so
 * weights summing to zero divide by 1; mergekit rounds 1e-8 to fp16 zero and divides by zero.
 *
 * <p>Deviation: DELLA ranks along the last dimension of every tensor of two or more dimensions
 * (mergekit ranks along dimension 1, which differs for three or more), and a row of one element
 * is kept with probability {@code density} (mergekit divides 0 by 0 and fails).
 */
public final class TaskArithmetic implements MergeMethod {

    /** How task vectors are thinned before they are combined. */
    public enum Sparsification {
        NONE, MAGNITUDE, RANDOM, MAGNITUDE_OUTLIERS, RANK_MAGNITUDE_SAMPLING
    }

    /** Whether the models elect a sign per element. */
    public enum Consensus {
        NONE, SUM
    }

    private static final String TA = "https://arxiv.org/abs/2212.04089";
    private static final String TIES = "https://arxiv.org/abs/2306.01708";
    private static final String DARE = "https://arxiv.org/abs/2311.03099";
    private static final String BREADCRUMBS = "https://arxiv.org/abs/2312.06795";
    private static final String DELLA = "https://arxiv.org/abs/2406.11617";

    private final String name;
    private final String prettyName;
    private final String url;
    private final Sparsification sparsification;
    private final Consensus consensus;
    private final boolean normalize;
    private final boolean rescale;

    private TaskArithmetic(String name, String prettyName, String url, Sparsification sparsification,
                           Consensus consensus, boolean normalize, boolean rescale) {
        this.name = name;
        this.prettyName = prettyName;
        this.url = url;
        this.sparsification = sparsification;
        this.consensus = consensus;
        this.normalize = normalize;
        this.rescale = rescale;
    }

    public static TaskArithmetic taskArithmetic() {
        return new TaskArithmetic("task_arithmetic", "Task Arithmetic", TA, Sparsification.NONE, Consensus.NONE,
                false, false);
    }

    public static TaskArithmetic ties() {
        return new TaskArithmetic("ties", "TIES", TIES, Sparsification.MAGNITUDE, Consensus.SUM, true, false);
    }

    public static TaskArithmetic dareTies() {
        return new TaskArithmetic("dare_ties", "DARE TIES", DARE, Sparsification.RANDOM, Consensus.SUM, false, true);
    }

    public static TaskArithmetic dareLinear() {
        return new TaskArithmetic("dare_linear", "Linear DARE", DARE, Sparsification.RANDOM, Consensus.NONE, false,
                true);
    }

    public static TaskArithmetic breadcrumbs() {
        return new TaskArithmetic("breadcrumbs", "Model Breadcrumbs", BREADCRUMBS, Sparsification.MAGNITUDE_OUTLIERS,
                Consensus.NONE, false, false);
    }

    public static TaskArithmetic breadcrumbsTies() {
        return new TaskArithmetic("breadcrumbs_ties", "Model Breadcrumbs with TIES", BREADCRUMBS,
                Sparsification.MAGNITUDE_OUTLIERS, Consensus.SUM, false, false);
    }

    public static TaskArithmetic della() {
        return new TaskArithmetic("della", "DELLA", DELLA, Sparsification.RANK_MAGNITUDE_SAMPLING, Consensus.SUM, true,
                true);
    }

    public static TaskArithmetic dellaLinear() {
        return new TaskArithmetic("della_linear", "Linear DELLA", DELLA, Sparsification.RANK_MAGNITUDE_SAMPLING,
                Consensus.NONE, false, true);
    }

    public Sparsification sparsification() {
        return sparsification;
    }

    public Consensus consensus() {
        return consensus;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String prettyName() {
        return prettyName;
    }

    @Override
    public String referenceUrl() {
        return url;
    }

    @Override
    public List<ParamSpec> globalParameters() {
        return List.of(ParamSpec.flag("int8_mask", false), ParamSpec.flag("normalize", normalize),
                ParamSpec.flag("rescale", rescale), ParamSpec.optional("lambda", 1.0));
    }

    @Override
    public List<ParamSpec> perModelParameters() {
        List<ParamSpec> p = new ArrayList<>(List.of(ParamSpec.required("weight"), ParamSpec.optional("density", 1.0)));
        if (sparsification == Sparsification.MAGNITUDE_OUTLIERS) {
            p.add(ParamSpec.optional("gamma", 0.01));
        } else if (sparsification == Sparsification.RANK_MAGNITUDE_SAMPLING) {
            p.add(ParamSpec.optional("epsilon", 0.15));
        }
        return List.copyOf(p);
    }

    @Override
    public BaseRule baseRule() {
        return BaseRule.REQUIRED;
    }

    @Override
    public String checkOperands(int operands, int baseIndex) {
        return baseIndex < 0 ? name + " subtracts the base model, which lacks this tensor" : null;
    }

    @Override
    public String operandHint() {
        return "the base model must have every tensor the other models merge";
    }

    @Override
    public String checkParameters(MergeContext ctx) {
        for (int i = 0; i < ctx.operands(); i++) {
            if (i == ctx.baseIndex()) {
                continue;
            }
            double density = value(ctx, i, "density", 1.0);
            if (!(density >= 0 && density <= 1)) {
                return String.format(Locale.ROOT, "density %s of input %d is outside [0, 1]", fmt(density), i + 1);
            }
            if (sparsification == Sparsification.MAGNITUDE_OUTLIERS) {
                double gamma = value(ctx, i, "gamma", 0.01);
                if (!(gamma >= 0 && gamma <= 1)) {
                    return String.format(Locale.ROOT, "gamma %s of input %d is outside [0, 1]", fmt(gamma), i + 1);
                }
            }
            if (sparsification == Sparsification.RANK_MAGNITUDE_SAMPLING && density > 0 && density < 1) {
                double eps = Math.abs(value(ctx, i, "epsilon", 0.15));
                if (!(density - eps > 0 && density + eps < 1)) {
                    return String.format(Locale.ROOT, "epsilon %s with density %s of input %d gives keep "
                                    + "probabilities outside (0, 1): density ± epsilon must lie strictly between "
                                    + "0 and 1",
                            fmt(value(ctx, i, "epsilon", 0.15)), fmt(density), i + 1);
                }
            }
        }
        Double lambda = ctx.global("lambda");
        if (lambda != null && !Double.isFinite(lambda)) {
            return "lambda must be a finite number, got " + lambda;
        }
        return null;
    }

    @Override
    public long randomWords(MergeContext ctx) {
        if (sparsification != Sparsification.RANDOM && sparsification != Sparsification.RANK_MAGNITUDE_SAMPLING) {
            return 0;
        }
        long draws = 0;
        for (int i = 0; i < ctx.operands(); i++) {
            double density = value(ctx, i, "density", 1.0);
            boolean drawing = density < 1 && (sparsification == Sparsification.RANDOM || density > 0);
            if (i != ctx.baseIndex() && ctx.baseIndex() >= 0 && drawing) {
                draws++;
            }
        }
        return draws * ctx.numel();
    }

    @Override
    public boolean isIdentity(MergeContext ctx) {
        return ctx.operands() == 1 && ctx.baseIndex() == 0;
    }

    @Override
    public TensorMerge prepare(MergeContext ctx) {
        return new TaskArithmeticMerge(sparsification, consensus == Consensus.SUM, ctx);
    }

    static double value(MergeContext ctx, int operand, String key, double fallback) {
        Double v = ctx.param(operand, key);
        return v == null ? fallback : v;
    }

    private static String fmt(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? String.format(Locale.ROOT, "%.1f", v) : Double.toString(v);
    }
}
