package io.ukernel.vmm.qemu;

import io.ukernel.vmm.SnapshotKey;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A saved microVM beside its image: {@code dist/NAME.snap} is QEMU's migration stream of a VM booted from
 * {@code dist/NAME.img} and stopped at the guest init's snapshot point ({@link io.ukernel.vmm.RestoreRecord});
 * {@code dist/NAME.snap.properties} is its {@link SnapshotKey} (image, guest kernel, QEMU's version — migration
 * streams are not promised across versions —, the machine: accelerator, CPU model, vCPUs, memory, devices, the
 * guest command line; the stream's size and CRC32C). Any difference is a reason to boot cold, said in one line.
 */
public final class QemuSnapshot {
    /** The format of the key file; a change makes older snapshots mismatch. */
    static final String FORMAT = "1";

    private QemuSnapshot() {}

    /** {@code dist/NAME.snap}. */
    public static Path stream(Path dist, String name) {
        return dist.resolve(name + ".snap");
    }

    /** {@code dist/NAME.snap.properties}. */
    public static Path keyFile(Path dist, String name) {
        return dist.resolve(name + ".snap.properties");
    }

    /** The key of a snapshot of {@code image} and {@code kernel} in {@code machine} under {@code qemuVersion}. */
    static Map<String, String> key(Path image, Path kernel, String qemuVersion, String machine) throws IOException {
        return SnapshotKey.of(image, kernel, "QEMU", qemuVersion, machine);
    }

    /** The key a boot from {@code image} and {@code kernel} must find in {@code keyFile} ({@link SnapshotKey#expected}). */
    static Map<String, String> expected(Path keyFile, Path image, Path kernel, String qemuVersion, String machine)
            throws IOException {
        return SnapshotKey.expected(keyFile, image, kernel, "QEMU", qemuVersion, machine);
    }

    /** Writes the key with the stream's size and checksum and the image's and kernel's identity. */
    static void writeKey(Path file, Map<String, String> key, Path stream, Path image, Path kernel) throws IOException {
        SnapshotKey.write(file, key, List.of(stream), image, kernel);
    }

    /** Why the snapshot cannot be used for {@code expected}, or empty when it matches. */
    static Optional<String> check(Path stream, Path keyFile, Map<String, String> expected) throws IOException {
        return SnapshotKey.check(keyFile, expected, List.of(stream));
    }
}
