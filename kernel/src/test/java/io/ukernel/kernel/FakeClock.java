package io.ukernel.kernel;

/** A clock the test moves by hand. */
public final class FakeClock implements KernelClock {
    private long mono;
    private long wall = 1_700_000_000_000_000_000L;

    @Override
    public long monotonicNs() {
        return mono;
    }

    @Override
    public long wallNs() {
        return wall;
    }

    public void advance(long ns) {
        mono += ns;
        wall += ns;
    }
}
