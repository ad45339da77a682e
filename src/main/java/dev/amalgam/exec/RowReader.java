package dev.amalgam.exec;

import dev.amalgam.io.DType;
import dev.amalgam.kernel.Codec;
import dev.amalgam.model.TensorHandle;
import dev.amalgam.tokenizer.RowMap;

import java.util.Arrays;

/**
 * Reads an operand whose rows are re-indexed to the output vocabulary, row by row through its
 * {@link RowMap}, as working-dtype values. Exec stage; one per operand per tensor merge. A row is
 * the model's own row, a default embedding, or (padding) the mean of the token rows, which is
 * computed once, on first use, in one streaming pass.
 *
 * <p>Arithmetic follows mergekit's {@code PermutedEmbeddings} in the working dtype: a mean of
 * several rows adds them one by one into a zero row and divides by their count, rounding to the
 * working dtype after each step; the padding mean sums in high precision and rounds once.
 */
final class RowReader {

    private final RowMap map;
    private final DType work;
    private final int cols;
    private float[] mean;       // (cols) the padding row
    private float[] scratch;    // (cols)

    RowReader(RowMap map, DType work, long cols) {
        this.map = map;
        this.work = work;
        this.cols = Math.toIntExact(cols);
    }

    /** Elements {@code [off, off+len)} of the re-indexed matrix into {@code dst}. */
    void read(long off, int len, float[] dst) {
        int done = 0;
        while (done < len) {
            long e = off + done;
            long row = e / cols;
            int col = (int) (e % cols);
            int piece = Math.min(len - done, cols - col);
            row(row, col, piece, dst, done);
            done += piece;
        }
    }

    private void row(long r, int col, int n, float[] dst, int at) {
        if (map.padding(r)) {
            System.arraycopy(mean(), col, dst, at, n);
            return;
        }
        int token = (int) r;
        int own = map.own()[token];
        if (own >= 0) {
            decode(map.self(), own, col, n, dst, at);
            return;
        }
        RowMap.Defaults d = map.defaults();
        int count = d.count(token);
        int first = d.start()[token];
        if (count == 0) {
            Arrays.fill(dst, at, at + n, 0f);
        } else if (count == 1) {
            decode(d.tensors()[d.tensor()[first]], d.row()[first], col, n, dst, at);
        } else {
            if (scratch == null) {
                scratch = new float[cols];
            }
            Arrays.fill(dst, at, at + n, 0f);
            for (int e = first; e < first + count; e++) {
                decode(d.tensors()[d.tensor()[e]], d.row()[e], col, n, scratch, 0);
                for (int i = 0; i < n; i++) {
                    dst[at + i] = Codec.round(work, dst[at + i] + scratch[i]);
                }
            }
            for (int i = 0; i < n; i++) {
                dst[at + i] = Codec.round(work, dst[at + i] / count);
            }
        }
    }

    private void decode(TensorHandle h, long row, int col, int n, float[] dst, int at) {
        DType stored = h.info().dtype();
        h.read(row * h.info().shape()[1] + col, n, dst, at);
        if (stored != work && work != DType.F32 && work != DType.F64) {
            Codec.round(work, dst, at, n);
        }
    }

    private float[] mean() {
        if (mean == null) {
            double[] sum = new double[cols];
            float[] buf = new float[cols];
            for (int r = 0; r < map.tokens(); r++) {
                row(r, 0, cols, buf, 0);
                for (int c = 0; c < cols; c++) {
                    sum[c] += buf[c];
                }
            }
            mean = new float[cols];
            for (int c = 0; c < cols; c++) {
                mean[c] = Codec.round(work, (float) (sum[c] / map.tokens()));
            }
        }
        return mean;
    }
}
