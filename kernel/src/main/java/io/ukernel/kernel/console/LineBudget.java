package io.ukernel.kernel.console;

/**
 * One task's allowance of console lines of one kind: a token bucket over lines and one over bytes, both with a
 * burst, refilled by the kernel's monotonic clock. A line that finds either bucket short is dropped and counted;
 * the count is reported ({@link #takeDue}) once per interval at most, so the operator learns of every loss.
 * Not thread-safe: the {@link Console} uses it under its lock.
 */
final class LineBudget {
    private final ConsoleLimits.Rate rate;
    private final long intervalNs;
    private String task;
    private double lines;
    private double bytes;
    private long lastNs;
    private long suppressed;
    private long firstDropNs;

    LineBudget(ConsoleLimits.Rate rate, long intervalNs, String task, long nowNs) {
        this.rate = rate;
        this.intervalNs = intervalNs;
        this.task = task;
        this.lines = rate.burstLines();
        this.bytes = rate.burstBytes();
        this.lastNs = nowNs;
    }

    /** The task's name as last seen (a restarted task keeps its id and its budget). */
    String task() {
        return task;
    }

    /** Takes one line of {@code size} bytes from the buckets; false (and counted) when it must be dropped. */
    boolean admit(String taskName, long nowNs, int size) {
        task = taskName;
        refill(nowNs);
        double cost = Math.min(size, rate.burstBytes());
        if (lines >= 1 && bytes >= cost) {
            lines -= 1;
            bytes -= cost;
            return true;
        }
        if (suppressed++ == 0) {
            firstDropNs = nowNs;
        }
        return false;
    }

    /**
     * The number of lines dropped since the last report, when a report is due (an interval has passed since the
     * first of them, or {@code force}); 0 otherwise. A non-zero answer resets the count.
     */
    long takeDue(long nowNs, boolean force) {
        if (suppressed == 0 || !force && nowNs - firstDropNs < intervalNs) {
            return 0;
        }
        long n = suppressed;
        suppressed = 0;
        return n;
    }

    private void refill(long nowNs) {
        long elapsed = nowNs - lastNs;
        if (elapsed <= 0) {
            return;
        }
        lastNs = nowNs;
        lines = Math.min(rate.burstLines(), lines + elapsed * (rate.linesPerSec() / 1e9));
        bytes = Math.min(rate.burstBytes(), bytes + elapsed * (rate.bytesPerSec() / 1e9));
    }
}
