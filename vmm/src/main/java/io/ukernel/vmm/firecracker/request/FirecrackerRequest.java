package io.ukernel.vmm.firecracker.request;

import java.util.Map;

/**
 * One call of Firecracker's API: a method, a path and a JSON body shaped like the swagger definition it names.
 * One record per endpoint, named like Firecracker's own request parsers.
 */
public sealed interface FirecrackerRequest permits Logger, MachineConfig, BootSource, Drive, NetworkInterface,
        Actions, Vm, SnapshotCreate, SnapshotLoad {
    /** The HTTP method: {@code PUT}, but {@code PATCH} for {@code /vm}. */
    default String method() {
        return "PUT";
    }

    /** The path, e.g. {@code /drives/rootfs}. */
    String path();

    /** The body's fields, in a fixed order; optional fields left unset are absent, not null. */
    Map<String, Object> body();
}
