package io.ukernel.kernel.caps;

import io.ukernel.abi.Cap;

/** An immutable set of capabilities over the ABI's bit mask. */
public record CapabilitySet(long mask) {
    public static final CapabilitySet NONE = new CapabilitySet(0);

    public CapabilitySet {
        if ((mask & ~Cap.ALL_MASK) != 0) {
            throw new IllegalArgumentException("unknown capability bits " + Long.toHexString(mask & ~Cap.ALL_MASK));
        }
    }

    public static CapabilitySet of(Cap... caps) {
        long m = 0;
        for (Cap c : caps) {
            m |= c.bit();
        }
        return new CapabilitySet(m);
    }

    public boolean has(Cap cap) {
        return (mask & cap.bit()) != 0;
    }

    public boolean containsAll(CapabilitySet other) {
        return (other.mask & ~mask) == 0;
    }

    public CapabilitySet union(CapabilitySet other) {
        return new CapabilitySet(mask | other.mask);
    }

    public CapabilitySet intersect(CapabilitySet other) {
        return new CapabilitySet(mask & other.mask);
    }

    public CapabilitySet minus(CapabilitySet other) {
        return new CapabilitySet(mask & ~other.mask);
    }

    @Override
    public String toString() {
        return Cap.format(mask);
    }
}
