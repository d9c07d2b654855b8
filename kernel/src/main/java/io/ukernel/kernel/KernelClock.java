package io.ukernel.kernel;

/** The kernel's clocks, injected so tests can control time. */
public interface KernelClock {
    /** Nanoseconds since kernel boot. */
    long monotonicNs();

    /** Nanoseconds since the Unix epoch. */
    long wallNs();

    /** The host clocks, with monotonic time counted from the moment this is called. */
    static KernelClock system() {
        long boot = System.nanoTime();
        return new KernelClock() {
            @Override
            public long monotonicNs() {
                return System.nanoTime() - boot;
            }

            @Override
            public long wallNs() {
                java.time.Instant now = java.time.Instant.now();
                return now.getEpochSecond() * 1_000_000_000L + now.getNano();
            }
        };
    }
}
