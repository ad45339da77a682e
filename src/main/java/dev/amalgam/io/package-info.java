/**
 * I/O stage: the tensor file formats and their index file. {@link dev.amalgam.io.SafetensorsFile} maps
 * a shard read-only with the FFM API and validates its header completely before handing out any
 * tensor bytes; {@link dev.amalgam.io.SafetensorsWriter} writes a file whose header is known up front,
 * so tensors go to their offsets from any thread, in runs staged in aligned buffers that I/O
 * threads write past the page cache where the file system allows it
 * ({@link dev.amalgam.io.StagedWrites}, {@code O_DIRECT} for whole blocks), and starts the disk
 * writes of what does go through the page cache while the file is written
 * ({@link dev.amalgam.io.Writeback}, {@code sync_file_range} through the FFM API on Linux);
 * {@link dev.amalgam.io.TorchCheckpoint} reads a PyTorch zip checkpoint lazily through
 * {@link dev.amalgam.io.PickleReader}, which executes nothing and accepts only what a state dict needs;
 * both readers are {@link dev.amalgam.io.TensorSource}s, so later stages never see the format.
 * {@link dev.amalgam.io.SafetensorsIndex} reads and writes {@code model.safetensors.index.json} (and
 * reads {@code pytorch_model.bin.index.json}, which has the same layout); {@link dev.amalgam.io.DType}
 * names the stored element types. This package knows formats, never policy: which tensors to read or
 * write, and in what dtype, is decided by the plan.
 */
package dev.amalgam.io;
