/**
 * Planning: turns a recipe and its opened models into a {@link dev.amalgam.plan.Plan} in which
 * every output tensor's inputs, method parameters, shape, dtype and shard are decided. All
 * validation happens here, before any tensor data is read, so bad input fails before any output
 * is written.
 */
package dev.amalgam.plan;
