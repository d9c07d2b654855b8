package io.ukernel.vmm.spi;

import io.ukernel.vmm.VmSpec;
import io.ukernel.vmm.VmmException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A backend that can save a booted VM at the guest init's snapshot point and restore it instead of booting
 * ({@code ukernel pack --snapshot}, {@code ukernel run --vmm}): QEMU by migration, Firecracker by its snapshot API.
 * The saved files live beside the image in {@code dist/}, with a {@link io.ukernel.vmm.SnapshotKey}.
 */
public interface Snapshots {
    /** The file whose presence means "there is a snapshot" (its main saved file). */
    Path snapshotFile(Path dist, String name);

    /**
     * Boots {@code spec}'s image (without its environment: a snapshot holds none) to the snapshot point and saves
     * it in {@code dist}.
     *
     * @return the main saved file
     * @throws VmmException if the guest does not get there within {@code timeoutSeconds} or the save fails
     */
    Path snapshot(VmSpec spec, Path dist, ConsoleListener console, long timeoutSeconds) throws VmmException;

    /** Why the snapshot in {@code dist} cannot be restored into the VM {@code spec} describes; empty when it can. */
    Optional<String> snapshotMismatch(VmSpec spec, Path dist) throws VmmException;

    /**
     * Restores the snapshot in {@code dist} (checked first) and hands the guest its restore record (fresh clock and
     * entropy, {@code spec}'s parameters and environment).
     *
     * @throws VmmException if the VMM cannot load it; the VMM is then ended, nothing of the guest ran
     */
    RunningVm restore(VmSpec spec, Path dist, ConsoleListener console) throws VmmException;
}
