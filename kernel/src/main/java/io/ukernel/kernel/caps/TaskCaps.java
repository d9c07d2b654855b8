package io.ukernel.kernel.caps;

/**
 * A task's authority: its <em>ceiling</em> (the most it may ever hold: the app's policy, narrowed by its parent's
 * active set at spawn and by every drop) and its <em>active</em> set (what it holds now). Rights only shrink:
 * nothing can raise the ceiling. Owned by the reactor thread.
 */
public final class TaskCaps {
    private final CapabilitySet initialCeiling;
    private CapabilitySet ceiling;
    private CapabilitySet active = CapabilitySet.NONE;

    public TaskCaps(CapabilitySet ceiling) {
        this.initialCeiling = ceiling;
        this.ceiling = ceiling;
    }

    /** The ceiling the task was created with (a restart starts from it again). */
    public long initialCeiling() {
        return initialCeiling.mask();
    }

    /** Outcome of an acquire: granted, or denied with the capabilities that were beyond the ceiling. */
    public sealed interface Acquire permits Acquire.Granted, Acquire.Denied {
        record Granted(CapabilitySet added) implements Acquire {}

        record Denied(CapabilitySet missing) implements Acquire {}
    }

    /** Acquires all of {@code wanted} or nothing. */
    public Acquire acquire(CapabilitySet wanted) {
        CapabilitySet missing = wanted.minus(ceiling);
        if (missing.mask() != 0) {
            return new Acquire.Denied(missing);
        }
        CapabilitySet added = wanted.minus(active);
        active = active.union(wanted);
        return new Acquire.Granted(added);
    }

    /** Drops {@code caps} from the active set and the ceiling, irrevocably. */
    public void drop(CapabilitySet caps) {
        active = active.minus(caps);
        ceiling = ceiling.minus(caps);
    }

    public CapabilitySet active() {
        return active;
    }

    public CapabilitySet ceiling() {
        return ceiling;
    }
}
