/**
 * Synth tool: writes small but real Hugging Face model directories (config, safetensors shards and
 * index, generation config, a minimal tokenizer) for Llama, Mistral, Qwen2, Qwen3, Gemma and Phi-3,
 * either fresh with seeded random weights or derived from a base model by adding Gaussian noise.
 * Tests, the demo and users checking a pipeline use it instead of downloading models; the same seed
 * always gives byte-identical files. It sits beside the pipeline and uses only the I/O and kernel
 * stages.
 */
package dev.amalgam.synth;
