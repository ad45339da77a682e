package dev.amalgam.method;

/**
 * Chooses the random words of a random sparsification. Method stage. By default each
 * (tensor, model) gets a {@link KeyedRandom} stream keyed by the run's seed, so results do not
 * depend on threads or chunk sizes. When the executor binds {@link #MERGEKIT} (the
 * {@code --rng mergekit} mode) the words come instead from one MT19937 stream consumed as
 * mergekit consumes it: tensors in name order, within a tensor the sparsified models in recipe
 * order, {@code numel} words each, one word per element in row-major order.
 */
public final class Randomness {

    /**
     * Bound by the executor around one tensor in the mergekit-compatible mode: the MT19937 state
     * at the tensor's first word.
     */
    public static final ScopedValue<Mt19937> MERGEKIT = ScopedValue.newInstance();

    private Randomness() {
    }

    /**
     * The words for one sparsified model of a tensor.
     *
     * @param operand     the model's operand index (keys the default stream)
     * @param drawIndex   how many sparsified models of this tensor draw before this one
     */
    static RandomWords words(MergeContext ctx, int operand, int drawIndex) {
        if (MERGEKIT.isBound()) {
            return new Window(MERGEKIT.get(), drawIndex * ctx.numel());
        }
        return new KeyedRandom(ctx.seed(), ctx.tensorName(), operand);
    }

    /** A forward-reading window over an MT19937 stream that restarts when a pass begins again. */
    private static final class Window implements RandomWords {
        private static final int BLOCK = 1 << 14;
        private final Mt19937 start;
        private final long skip;
        private final int[] buf = new int[BLOCK];
        private Mt19937 gen;
        private long bufStart = Long.MIN_VALUE;
        private long next;

        Window(Mt19937 start, long skip) {
            this.start = start;
            this.skip = skip;
        }

        @Override
        public int word(long index) {
            long rel = index - bufStart;
            if (rel >= 0 && rel < BLOCK) {
                return buf[(int) rel];
            }
            long block = index / BLOCK * BLOCK;
            if (gen == null || block < next) {
                gen = start.copy();
                gen.skip(skip);
                next = 0;
            }
            gen.skip(block - next);
            gen.next(buf, BLOCK);
            bufStart = block;
            next = block + BLOCK;
            return buf[(int) (index - block)];
        }

        @Override
        public void words(long index, int n, int[] dst) {
            for (int done = 0; done < n; ) {
                int first = word(index + done);
                int at = (int) (index + done - bufStart);
                int len = Math.min(n - done, BLOCK - at);
                dst[done] = first;
                System.arraycopy(buf, at + 1, dst, done + 1, len - 1);
                done += len;
            }
        }
    }
}
