package dev.reuseport;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The latency an application records on one {@link Worker} ({@link Worker#recordLatency(long)}), in whole
 * microseconds with three significant digits: recording is lock-free, and each snapshot folds the interval
 * since the last one into the running total.
 */
final class WorkerLatency {
    private final Recorder recorder = new Recorder(3);
    /** Every interval folded so far. */
    private final Histogram total = new Histogram(3);
    private Histogram interval;

    /** Records one duration; anything under a microsecond counts as one. */
    void record(long nanos) {
        recorder.recordValue(Math.max(1, nanos / 1000));
    }

    /** A copy of every latency recorded so far, in microseconds. */
    synchronized Histogram snapshot() {
        interval = recorder.getIntervalHistogram(interval);
        total.add(interval);
        return total.copy();
    }
}
