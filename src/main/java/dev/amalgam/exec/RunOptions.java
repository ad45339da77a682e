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
 * @param mergekitRng    draw DARE/DELLA masks from mergekit's seeded MT19937 stream (bit-compatible)
 * @param resume         finish an interrupted merge into the same output, keeping its verified tensors
 * @param strict         refuse to finish a model in which the merge created NaN or infinite values
 * @param pieceElements  a tensor larger than this whose method allows it is merged in pieces of
 *                       about this many elements on several workers (the output is the same)
 */
public record RunOptions(int threads, int chunkElements, boolean overwrite, boolean copyTokenizer,
                         boolean writeModelCard, ProgressListener listener, boolean mergekitRng, boolean resume,
                         boolean strict, long pieceElements) {

    public static final int DEFAULT_CHUNK = 1 << 16;
    public static final long DEFAULT_PIECE = 1L << 24;

    public static RunOptions defaults() {
        return new RunOptions(Runtime.getRuntime().availableProcessors(), DEFAULT_CHUNK, false, true, true,
                ProgressListener.NONE, false, false, false, DEFAULT_PIECE);
    }

    public RunOptions withThreads(int n) {
        return new RunOptions(n, chunkElements, overwrite, copyTokenizer, writeModelCard, listener, mergekitRng,
                resume, strict, pieceElements);
    }

    public RunOptions withChunk(int n) {
        return new RunOptions(threads, n, overwrite, copyTokenizer, writeModelCard, listener, mergekitRng, resume,
                strict, pieceElements);
    }

    public RunOptions withOverwrite(boolean b) {
        return new RunOptions(threads, chunkElements, b, copyTokenizer, writeModelCard, listener, mergekitRng, resume,
                strict, pieceElements);
    }

    public RunOptions withCopyTokenizer(boolean b) {
        return new RunOptions(threads, chunkElements, overwrite, b, writeModelCard, listener, mergekitRng, resume,
                strict, pieceElements);
    }

    public RunOptions withModelCard(boolean b) {
        return new RunOptions(threads, chunkElements, overwrite, copyTokenizer, b, listener, mergekitRng, resume,
                strict, pieceElements);
    }

    public RunOptions withMergekitRng(boolean b) {
        return new RunOptions(threads, chunkElements, overwrite, copyTokenizer, writeModelCard, listener, b, resume,
                strict, pieceElements);
    }

    public RunOptions withResume(boolean b) {
        return new RunOptions(threads, chunkElements, overwrite, copyTokenizer, writeModelCard, listener, mergekitRng,
                b, strict, pieceElements);
    }

    public RunOptions withStrict(boolean b) {
        return new RunOptions(threads, chunkElements, overwrite, copyTokenizer, writeModelCard, listener, mergekitRng,
                resume, b, pieceElements);
    }

    public RunOptions withPieceElements(long n) {
        return new RunOptions(threads, chunkElements, overwrite, copyTokenizer, writeModelCard, listener, mergekitRng,
                resume, strict, n);
    }

    public RunOptions withListener(ProgressListener l) {
        return new RunOptions(threads, chunkElements, overwrite, copyTokenizer, writeModelCard, l, mergekitRng,
                resume, strict, pieceElements);
    }
}
