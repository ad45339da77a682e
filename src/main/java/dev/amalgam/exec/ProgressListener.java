package dev.amalgam.exec;

import dev.amalgam.plan.OutputTensor;

/**
 * Receives progress events from a running merge. Exec stage; the CLI draws a progress bar from
 * them. Calls come from worker threads.
 */
public interface ProgressListener {

    ProgressListener NONE = new ProgressListener() {
    };

    /** The merge is about to write {@code tensors} tensors, {@code bytes} bytes in all. */
    default void started(int tensors, long bytes) {
    }

    /** One output tensor is written. */
    default void tensorDone(OutputTensor tensor) {
    }

    /** All tensors are written; the rest of the directory follows. */
    default void tensorsFinished() {
    }
}
