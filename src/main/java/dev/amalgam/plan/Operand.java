package dev.amalgam.plan;

import dev.amalgam.model.TensorHandle;
import dev.amalgam.recipe.ModelRef;

/**
 * One input of an output tensor: which model, which stored tensor, and how much of it. Plan
 * stage. {@code rows}/{@code cols} are the part that is read when an embedding matrix is cropped
 * to the common vocabulary; otherwise they cover the whole tensor.
 *
 * @param model     the model as the recipe names it
 * @param inputName the stored tensor name (differs from the output name in stacked slices)
 * @param tensor    the stored tensor
 * @param cropCols  when cropping a 2-D tensor, the number of leading columns read per row; else -1
 */
public record Operand(ModelRef model, String inputName, TensorHandle tensor, long cropCols) {

    public boolean cropped() {
        return cropCols >= 0;
    }
}
