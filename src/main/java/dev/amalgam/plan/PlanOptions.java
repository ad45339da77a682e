package dev.amalgam.plan;

import dev.amalgam.io.DType;
import dev.amalgam.model.ModelLocator;

import java.nio.file.Path;

/**
 * The options that shape a plan. Plan stage.
 *
 * @param workDir        directory relative model paths resolve against first
 * @param outShardSize   the largest output shard in bytes; 0 or less means one shard
 * @param allowCrimes    allow models of different architectures
 * @param seed           the random seed for methods that draw random numbers
 * @param hubCache       the Hugging Face hub cache that {@code org/name} references resolve in
 * @param loraMergeDtype the dtype a {@code model+lora} model is read in (mergekit's
 *                       {@code --lora-merge-dtype}); null keeps each tensor's stored dtype
 */
public record PlanOptions(Path workDir, long outShardSize, boolean allowCrimes, long seed, Path hubCache,
                          DType loraMergeDtype) {

    /** mergekit's default shard size, 5B bytes. */
    public static final long DEFAULT_SHARD_SIZE = 5_000_000_000L;

    public static PlanOptions defaults() {
        return new PlanOptions(Path.of("").toAbsolutePath(), DEFAULT_SHARD_SIZE, false, 0L,
                ModelLocator.hubCache(System.getenv()), null);
    }

    public PlanOptions withShardSize(long bytes) {
        return new PlanOptions(workDir, bytes, allowCrimes, seed, hubCache, loraMergeDtype);
    }

    public PlanOptions withAllowCrimes(boolean allow) {
        return new PlanOptions(workDir, outShardSize, allow, seed, hubCache, loraMergeDtype);
    }

    public PlanOptions withSeed(long s) {
        return new PlanOptions(workDir, outShardSize, allowCrimes, s, hubCache, loraMergeDtype);
    }

    public PlanOptions withWorkDir(Path dir) {
        return new PlanOptions(dir, outShardSize, allowCrimes, seed, hubCache, loraMergeDtype);
    }

    public PlanOptions withLoraMergeDtype(DType d) {
        return new PlanOptions(workDir, outShardSize, allowCrimes, seed, hubCache, d);
    }

    public PlanOptions withHubCache(Path dir) {
        return new PlanOptions(workDir, outShardSize, allowCrimes, seed, dir, loraMergeDtype);
    }
}
