package dev.amalgam.plan;

import java.nio.file.Path;

/**
 * The options that shape a plan. Plan stage.
 *
 * @param workDir      directory relative model paths resolve against first
 * @param outShardSize the largest output shard in bytes; 0 or less means one shard
 * @param allowCrimes  allow models of different architectures
 * @param seed         the random seed for methods that draw random numbers
 */
public record PlanOptions(Path workDir, long outShardSize, boolean allowCrimes, long seed) {

    /** mergekit's default shard size, 5B bytes. */
    public static final long DEFAULT_SHARD_SIZE = 5_000_000_000L;

    public static PlanOptions defaults() {
        return new PlanOptions(Path.of("").toAbsolutePath(), DEFAULT_SHARD_SIZE, false, 0L);
    }

    public PlanOptions withShardSize(long bytes) {
        return new PlanOptions(workDir, bytes, allowCrimes, seed);
    }

    public PlanOptions withAllowCrimes(boolean allow) {
        return new PlanOptions(workDir, outShardSize, allow, seed);
    }

    public PlanOptions withSeed(long s) {
        return new PlanOptions(workDir, outShardSize, allowCrimes, s);
    }

    public PlanOptions withWorkDir(Path dir) {
        return new PlanOptions(dir, outShardSize, allowCrimes, seed);
    }
}
