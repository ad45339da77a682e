/**
 * The benchmark behind {@code amalgam bench}: generates TinyLlama-shaped models once into a cache,
 * times whole merges through the library API in fresh child JVMs (wall, CPU, peak RSS, peak
 * anonymous memory), times the physical floor (a streaming copy of the same bytes), and writes a
 * table and a CSV. It sits beside the pipeline and uses it the way a library user would:
 * {@code Recipe.parse} → {@code Planner.plan} → {@code Executor.run}.
 */
package dev.amalgam.bench;
