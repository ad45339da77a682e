package dev.amalgam.tokenizer;

import dev.amalgam.model.TensorHandle;

/**
 * Where each row of one model's vocabulary matrix, re-indexed to the output vocabulary, comes
 * from: the model's own row, the default embedding of the token (one row of some model, the mean
 * of several, or zeros), or — for padding rows — the mean of all token rows. Tokenizer stage;
 * made at plan time, read row by row by the exec stage, so no matrix is ever materialised.
 *
 * @param self     the model's own matrix
 * @param tokens   rows that are tokens ({@code vocabSize}); rows from here to {@code rows} are padding
 * @param rows     output rows ({@code paddedSize})
 * @param own      (tokens) per output row, the row of {@code self}, or -1 for the default embedding
 * @param defaults the default embeddings of the output tensor, shared by its operands
 */
public record RowMap(TensorHandle self, int tokens, long rows, int[] own, Defaults defaults) {

    /**
     * The default embedding of every output token: the rows to average, in CSR form. An empty
     * list is an all-zero row; one entry is that row as it is.
     *
     * @param tensors the matrices rows are taken from (every operand's)
     * @param start   (tokens + 1) where each token's entries begin in {@code tensor}/{@code row}
     * @param tensor  index into {@code tensors} per entry
     * @param row     source row per entry
     */
    public record Defaults(TensorHandle[] tensors, int[] start, int[] tensor, int[] row) {

        public int count(int token) {
            return start[token + 1] - start[token];
        }
    }

    /** True when row {@code r} is padding (the mean of the token rows). */
    public boolean padding(long r) {
        return r >= tokens;
    }
}
