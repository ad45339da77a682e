/**
 * Execution: runs a plan — output shards created with their headers first, each output tensor
 * streamed from the mapped inputs through its method in float32 chunks on a pool of worker
 * threads and written to its offset, then the rest of the directory written and moved into
 * place — and reports progress and a summary.
 */
package dev.amalgam.exec;
