package dev.amalgam.bench;

/**
 * What one run of one benchmark case measured. Bench stage.
 *
 * @param wallNanos     wall time of planning and running, measured in the child
 * @param cpuNanos      CPU time (all threads, user and system) over the same span, measured in the child
 * @param peakRss       peak resident set size of the child (VmHWM), bytes; includes the touched pages of
 *                      the memory-mapped inputs
 * @param peakRssAnon   peak anonymous resident memory of the child (RssAnon, polled), bytes
 * @param bytesRead     tensor bytes the plan reads, each input tensor counted once
 * @param bytesWritten  tensor bytes written
 * @param processCpu    CPU time of the whole child process as last seen from outside (JVM start-up
 *                      included), nanoseconds, or -1
 * @param loadAverage   the machine's one-minute load average when the run ended (other work on the
 *                      machine shows here), or -1
 */
public record Measurement(long wallNanos, long cpuNanos, long peakRss, long peakRssAnon, long bytesRead,
                          long bytesWritten, long processCpu, double loadAverage) {

    /** (bytes read + bytes written) per second of wall time, in GB/s. */
    public double throughputGBs() {
        return (bytesRead + bytesWritten) / (double) wallNanos;
    }
}
