package dev.amalgam.plan;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.amalgam.method.MergeMethod;
import dev.amalgam.model.Model;
import dev.amalgam.recipe.ModelRef;
import dev.amalgam.recipe.Recipe;
import dev.amalgam.tokenizer.TokenizerPlan;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A merge fully decided: every output tensor with its inputs, method parameters, dtype and
 * shard; the output config.json; the donor of tokenizer files, or the output tokenizer; and an
 * account of the input tensors the output does not use. Plan stage; it owns the opened models
 * and closes them.
 *
 * @param recipe       the recipe
 * @param method       the merge method
 * @param models       opened models in first-appearance order
 * @param baseModel    the global base model, or null
 * @param donor        the model that gives config.json and tokenizer files
 * @param tensors      output tensors in write order
 * @param shards       output files
 * @param outputConfig the config.json to write
 * @param layers       number of output layers
 * @param unused       per model, the input tensors no output tensor reads, with the reason
 * @param warnings     things the user should know that do not stop the merge
 * @param tokenizer    the output tokenizer when one is built or re-written with a chat template; null
 *                     when the donor's tokenizer files are copied verbatim
 */
public record Plan(Recipe recipe, MergeMethod method, Map<ModelRef, Model> models, ModelRef baseModel,
                   ModelRef donor, List<OutputTensor> tensors, List<Shard> shards, ObjectNode outputConfig,
                   int layers, Map<ModelRef, List<String>> unused, List<String> warnings,
                   TokenizerPlan tokenizer) implements AutoCloseable {

    public Path donorDir() {
        return models.get(donor).dir();
    }

    public long bytesToWrite() {
        long s = 0;
        for (Shard sh : shards) {
            s += sh.bytes();
        }
        return s;
    }

    public long bytesToRead() {
        long s = 0;
        for (OutputTensor t : tensors) {
            s += t.bytesRead();
        }
        return s;
    }

    /** True when the method draws random numbers for some tensor (DARE, DELLA). */
    public boolean usesRandomness() {
        return tensors.stream().anyMatch(t -> !t.copy() && method.randomWords(t.context()) > 0);
    }

    /** The run's random seed. */
    public long seed() {
        return tensors.isEmpty() ? 0 : tensors.getFirst().context().seed();
    }

    @Override
    public void close() {
        models.values().forEach(Model::close);
    }
}
