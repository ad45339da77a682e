package dev.amalgam.exec;

/**
 * How to run a plan. Exec stage.
 *
 * @param threads        worker threads (each merges whole tensors, chunk by chunk)
 * @param chunkElements  elements per chunk
 * @param overwrite      replace an existing non-empty output directory
 * @param copyTokenizer  copy tokenizer files and generation config from the donor model
 * @param writeModelCard write README.md and mergekit_config.yml
 * @param listener       progress events
 */
public record RunOptions(int threads, int chunkElements, boolean overwrite, boolean copyTokenizer,
                         boolean writeModelCard, ProgressListener listener) {

    public static final int DEFAULT_CHUNK = 1 << 16;

    public static RunOptions defaults() {
        return new RunOptions(Runtime.getRuntime().availableProcessors(), DEFAULT_CHUNK, false, true, true,
                ProgressListener.NONE);
    }

    public RunOptions withThreads(int n) {
        return new RunOptions(n, chunkElements, overwrite, copyTokenizer, writeModelCard, listener);
    }

    public RunOptions withChunk(int n) {
        return new RunOptions(threads, n, overwrite, copyTokenizer, writeModelCard, listener);
    }

    public RunOptions withOverwrite(boolean b) {
        return new RunOptions(threads, chunkElements, b, copyTokenizer, writeModelCard, listener);
    }

    public RunOptions withCopyTokenizer(boolean b) {
        return new RunOptions(threads, chunkElements, overwrite, b, writeModelCard, listener);
    }

    public RunOptions withModelCard(boolean b) {
        return new RunOptions(threads, chunkElements, overwrite, copyTokenizer, b, listener);
    }

    public RunOptions withListener(ProgressListener l) {
        return new RunOptions(threads, chunkElements, overwrite, copyTokenizer, writeModelCard, l);
    }
}
