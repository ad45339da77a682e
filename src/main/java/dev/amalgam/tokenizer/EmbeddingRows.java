package dev.amalgam.tokenizer;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.model.TensorHandle;
import dev.amalgam.recipe.ModelRef;
import dev.amalgam.recipe.TokenSpec;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Re-indexes one vocabulary matrix (embeddings or output head) of every operand to the output
 * vocabulary, as mergekit's {@code PermutedEmbeddings} does, by making each operand's
 * {@link RowMap}. Tokenizer stage, at plan time.
 *
 * <p>Row {@code i} of a model is its own row of the token unless the model lacks the token or the
 * token is {@code force}d; then it is the token's default embedding: the configured source
 * ({@code source: model} — that model's row of the token; {@code model_token} — a row by id or by
 * the model's own id of a token; {@code zero}), else the only model that has the token, else the
 * base model's row when it has it, else the mean of the rows of every model that has it, else
 * zeros (where mergekit fails). Padding rows are the mean of the token rows.
 */
public final class EmbeddingRows {

    private EmbeddingRows() {
    }

    /**
     * The row maps of one output tensor's operands.
     *
     * @param name    the output tensor, for messages
     * @param models  the operands' models, in operand order
     * @param tensors the operands' stored matrices, 2-D
     */
    public static List<RowMap> rowMaps(TokenizerPlan plan, String name, List<ModelRef> models,
                                       List<TensorHandle> tensors) {
        int n = models.size();
        int v = plan.vocabSize();
        int[][] perm = new int[n][];
        for (int k = 0; k < n; k++) {
            int[] p = plan.permutations().get(models.get(k));
            if (p == null) {
                throw AmalgamException.internal("no permutation for " + models.get(k), null);
            }
            long rows = tensors.get(k).info().shape()[0];
            perm[k] = p.clone();
            for (int i = 0; i < v; i++) {
                if (perm[k][i] >= rows) {
                    perm[k][i] = -1;
                }
            }
        }
        int base = plan.embeddingBase() == null ? -1 : models.indexOf(plan.embeddingBase());
        int[] start = new int[v + 1];
        List<int[]> entries = new ArrayList<>();
        boolean[] forced = new boolean[v];
        for (int id = 0; id < v; id++) {
            start[id] = entries.size();
            String token = plan.output().token(id);
            TokenSpec s = token == null ? null : plan.tokens().get(token);
            forced[id] = s != null && s.force();
            if (s != null && s.kind() != null) {
                configured(plan, name, token, id, s, models, tensors, perm, entries);
                continue;
            }
            int present = 0;
            for (int k = 0; k < n; k++) {
                present += perm[k][id] >= 0 ? 1 : 0;
            }
            if (present >= 2 && base >= 0 && perm[base][id] >= 0) {
                entries.add(new int[] {base, perm[base][id]});
                continue;
            }
            for (int k = 0; k < n; k++) {
                if (perm[k][id] >= 0) {
                    entries.add(new int[] {k, perm[k][id]});
                }
            }
        }
        start[v] = entries.size();
        int[] tensor = new int[entries.size()];
        int[] row = new int[entries.size()];
        for (int e = 0; e < entries.size(); e++) {
            tensor[e] = entries.get(e)[0];
            row[e] = entries.get(e)[1];
        }
        RowMap.Defaults defaults = new RowMap.Defaults(tensors.toArray(TensorHandle[]::new), start, tensor, row);
        List<RowMap> out = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            int[] own = new int[v];
            for (int id = 0; id < v; id++) {
                own[id] = forced[id] ? -1 : perm[k][id];
            }
            out.add(new RowMap(tensors.get(k), v, plan.paddedSize(), own, defaults));
        }
        return out;
    }

    private static void configured(TokenizerPlan plan, String name, String token, int id, TokenSpec s,
                                   List<ModelRef> models, List<TensorHandle> tensors, int[][] perm,
                                   List<int[]> entries) {
        if (s.kind().equals("zero")) {
            return;
        }
        int k = models.indexOf(s.model());
        if (k < 0) {
            throw AmalgamException.recipe("the source of token '" + token + "' is " + s.model() + ", which has no "
                    + name + " among the inputs of that tensor", s.where().withTensor(name),
                    "take the row from a model that is merged into " + name);
        }
        long rows = tensors.get(k).info().shape()[0];
        int src;
        if (s.kind().equals("model")) {
            src = perm[k][id];
            if (src < 0) {
                throw AmalgamException.recipe("token '" + token + "' is not in the vocabulary of " + s.model()
                        + " (or past its rows of " + name + ")", s.where().withTensor(name),
                        "take its row from a model that has it");
            }
        } else {
            src = s.tokenId() != null ? s.tokenId() : plan.originals().get(s.model()).id(s.token());
            if (src < 0 || src >= rows) {
                throw AmalgamException.recipe(String.format(Locale.ROOT, "token %s of %s is row %d, outside the %d "
                                + "rows of %s", s.token() != null ? "'" + s.token() + "'" : "id " + src, s.model(),
                        src, rows, name), s.where().withTensor(name), null);
            }
        }
        entries.add(new int[] {k, src});
    }
}
