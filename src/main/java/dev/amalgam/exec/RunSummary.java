package dev.amalgam.exec;

import java.nio.file.Path;
import java.util.List;

/**
 * What a finished merge did. Exec stage.
 *
 * @param output         the output directory
 * @param tensors        tensors written
 * @param merged         of which computed by the method
 * @param copied         of which copied verbatim
 * @param bytesRead      tensor bytes read from the inputs (once per pass)
 * @param bytesWritten   tensor bytes written
 * @param wallNanos      wall time
 * @param peakRssBytes   peak resident memory of the process, or -1 when unknown
 * @param tokenizerFiles tokenizer files copied
 * @param unusedInputs   input tensors not in the output, with the reason
 * @param seed           the random seed when the method drew random numbers, else null
 * @param resumedTensors tensors kept from an interrupted run
 * @param numeric        tensors where the merge created NaN or infinite values
 * @param notes          things worth telling the user about the run
 */
public record RunSummary(Path output, int tensors, int merged, int copied, long bytesRead, long bytesWritten,
                         long wallNanos, long peakRssBytes, List<String> tokenizerFiles, List<String> unusedInputs, Long seed,
                         int resumedTensors, List<String> numeric, List<String> notes) {
}
