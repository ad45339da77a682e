package dev.amalgam.plan;

import dev.amalgam.model.TensorHandle;
import dev.amalgam.recipe.ModelRef;
import dev.amalgam.tokenizer.RowMap;

/**
 * One input of an output tensor: which model, which stored tensor, and how much of it. Plan
 * stage. {@code rows}/{@code cols} are the part that is read when an embedding matrix is cropped
 * to the common vocabulary; otherwise they cover the whole tensor. A vocabulary matrix re-indexed
 * to a built output vocabulary is read through its {@code rows} map instead.
 *
 * @param model     the model as the recipe names it
 * @param inputName the stored tensor name (differs from the output name in stacked slices)
 * @param tensor    the stored tensor
 * @param cropCols  when cropping a 2-D tensor, the number of leading columns read per row; else -1
 * @param rows      where each output row comes from, for a re-indexed vocabulary matrix; else null
 */
public record Operand(ModelRef model, String inputName, TensorHandle tensor, long cropCols, RowMap rows) {

    public Operand(ModelRef model, String inputName, TensorHandle tensor, long cropCols) {
        this(model, inputName, tensor, cropCols, null);
    }

    public boolean cropped() {
        return cropCols >= 0;
    }
}
