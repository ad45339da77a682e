/**
 * Execution: runs a plan — output shards created with their headers first, each output tensor
 * streamed from the mapped inputs through its method in float32 chunks on a pool of worker
 * threads and written to its offset, then the rest of the directory written and moved into
 * place — and reports progress and a summary. A large tensor whose method computes every chunk
 * from its inputs alone is split into pieces that run on several workers, its journal checksum
 * joined from theirs ({@link dev.amalgam.exec.Crc32c}), and journaled once the writer says its
 * bytes are in the file; a finished tensor's input pages are let go, so the process holds the
 * tensors in flight, not the models.
 */
package dev.amalgam.exec;
