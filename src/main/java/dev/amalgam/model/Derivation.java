package dev.amalgam.model;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;

import java.util.List;

/**
 * How a derived {@link TensorHandle}'s values are computed from other tensors while they are read.
 * Model stage. Every derivation streams: a read of a few thousand elements touches only what those
 * elements need, so no derived tensor is ever held in memory whole.
 */
public sealed interface Derivation permits Derivation.Cast, Derivation.Stack, Derivation.Lora {

    /** Elements {@code [off, off+len)} of {@code self} into {@code dst[at..]}, rounded to self's dtype. */
    void read(TensorHandle self, long off, int len, float[] dst, int at);

    /** The tensors read, first the one whose file stands for the result. */
    List<TensorHandle> inputs();

    /** Another tensor's values, rounded to the derived tensor's dtype (a replacement from an adapter, a cast). */
    record Cast(TensorHandle from) implements Derivation {

        @Override
        public void read(TensorHandle self, long off, int len, float[] dst, int at) {
            from.read(off, len, dst, at);
            Codec.round(self.info().dtype(), dst, at, len);
        }

        @Override
        public List<TensorHandle> inputs() {
            return List.of(from);
        }
    }

    /**
     * The elements of several tensors one after another, in order: a fused-experts matrix built
     * from per-expert ones, or a tensor under another name. The parts share the result's dtype.
     */
    record Stack(List<TensorHandle> parts) implements Derivation {

        public Stack {
            parts = List.copyOf(parts);
        }

        @Override
        public void read(TensorHandle self, long off, int len, float[] dst, int at) {
            long start = 0;
            int done = 0;
            for (TensorHandle p : parts) {
                long n = p.info().numel();
                long e = off + done;
                if (done < len && e < start + n) {
                    int piece = (int) Math.min(len - done, start + n - e);
                    p.read(e - start, piece, dst, at + done);
                    done += piece;
                }
                start += n;
            }
        }

        @Override
        public List<TensorHandle> inputs() {
            return parts;
        }
    }

    /**
     * A base tensor plus a LoRA update, as PEFT merges it with torch on the CPU:
     * {@code W' = round(float32(W) + float32(scale · (B·A)[o][i]))} in the result's dtype, where each
     * product sum runs over the rank in order with fused multiply-adds from zero (the order of the
     * CPU sgemm kernels, which makes the result bit-identical to the reference merge) and the
     * adapter's values are exact float32 (PEFT upcasts half-precision adapters before merging).
     *
     * <p>{@code transposed} serves weights stored as {@code (in, out)}: Conv1D layers and
     * {@code fan_in_fan_out} adapters, and embeddings ({@code lora_embedding_A} is {@code (r, vocab)},
     * {@code lora_embedding_B} {@code (dim, r)}). With {@code a == null} it is a bias update:
     * {@code b' = round(b + scale · lora_B.bias)}.
     *
     * <p>A read decodes the B rows (or A columns) of the rows it covers and, once per thread and
     * tensor, the other factor whole: {@code rank × dim} floats, never the update itself.
     *
     * @param base       the base tensor
     * @param a          lora_A, {@code (r, in)}; null for a bias update
     * @param b          lora_B, {@code (out, r)}; for a bias update, lora_B's bias {@code (out)}
     * @param rank       r
     * @param scale      alpha / r, or alpha / √r with rsLoRA, as float32
     * @param transposed true when the base tensor is stored as {@code (in, out)}
     */
    record Lora(TensorHandle base, TensorHandle a, TensorHandle b, int rank, float scale, boolean transposed)
            implements Derivation {

        /** The factor read whole, per thread: the last one used. */
        private static final ThreadLocal<Object[]> WHOLE = new ThreadLocal<>();

        @Override
        public void read(TensorHandle self, long off, int len, float[] dst, int at) {
            DType dt = self.info().dtype();
            base.read(off, len, dst, at);
            if (base.info().dtype() != dt) {
                Codec.round(dt, dst, at, len);
            }
            if (a == null) {
                float[] v = new float[len];
                b.read(off, len, v, 0);
                for (int i = 0; i < len; i++) {
                    dst[at + i] += v[i] * scale;
                }
                Codec.round(dt, dst, at, len);
                return;
            }
            long cols = self.info().shape()[1];
            float[] whole = whole(cols);
            float[] p = new float[rank];
            int done = 0;
            while (done < len) {
                long e = off + done;
                long row = e / cols;
                int col = (int) (e % cols);
                int n = (int) Math.min(len - done, cols - col);
                if (transposed) {
                    long aCols = a.info().shape()[1];
                    for (int k = 0; k < rank; k++) {
                        a.read(k * aCols + row, 1, p, k);
                    }
                } else {
                    b.read(row * rank, rank, p, 0);
                }
                for (int j = 0; j < n; j++) {
                    int w = (col + j) * rank;
                    float acc = 0f;
                    for (int k = 0; k < rank; k++) {
                        acc = Math.fma(p[k], whole[w + k], acc);
                    }
                    dst[at + done + j] += acc * scale;
                }
                Codec.round(dt, dst, at + done, n);
                done += n;
            }
        }

        /** {@code (cols, r)}: A transposed, or B (whose rows are the columns of a transposed weight). */
        private float[] whole(long cols) {
            Object[] cached = WHOLE.get();
            if (cached != null && cached[0] == this) {
                return (float[]) cached[1];
            }
            int c = Math.toIntExact(cols);
            float[] out = new float[Math.multiplyExact(c, rank)];
            if (transposed) {
                b.read(0, out.length, out, 0);
            } else {
                float[] raw = new float[out.length];
                a.read(0, raw.length, raw, 0);
                for (int k = 0; k < rank; k++) {
                    for (int i = 0; i < c; i++) {
                        out[i * rank + k] = raw[k * c + i];
                    }
                }
            }
            WHOLE.set(new Object[] {this, out});
            return out;
        }

        @Override
        public List<TensorHandle> inputs() {
            return a == null ? List.of(base, b) : List.of(base, a, b);
        }
    }
}
