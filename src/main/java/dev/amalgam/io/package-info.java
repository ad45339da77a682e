/**
 * I/O stage: the safetensors format and its index file. {@link dev.amalgam.io.SafetensorsFile} maps
 * a shard read-only with the FFM API and validates its header completely before handing out any
 * tensor bytes; {@link dev.amalgam.io.SafetensorsWriter} writes a file whose header is known up front,
 * so tensors go straight to their offsets with positional writes from any thread;
 * {@link dev.amalgam.io.SafetensorsIndex} reads and writes {@code model.safetensors.index.json};
 * {@link dev.amalgam.io.DType} names the stored element types. This package knows formats, never
 * policy: which tensors to read or write, and in what dtype, is decided by the plan.
 */
package dev.amalgam.io;
