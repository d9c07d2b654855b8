package io.ukernel.vmm.firecracker.request;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code PUT /snapshot/load} (swagger {@code SnapshotLoadParams}): on a fresh Firecracker (nothing configured but
 * the logger), load a snapshot's state and memory (a {@code File} memory backend) and resume it.
 *
 * @param snapshotPath the state file
 * @param memFilePath  the memory file
 * @param resume       whether to resume the vCPUs once loaded
 * @param tap          the host tap device to put behind the guest's {@code eth0} instead of the saved one, if any
 */
public record SnapshotLoad(String snapshotPath, String memFilePath, boolean resume, Optional<String> tap)
        implements FirecrackerRequest {
    @Override
    public String path() {
        return "/snapshot/load";
    }

    @Override
    public Map<String, Object> body() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("snapshot_path", snapshotPath);
        m.put("mem_backend", Map.of("backend_type", "File", "backend_path", memFilePath));
        m.put("resume_vm", resume);
        tap.ifPresent(t -> m.put("network_overrides", List.of(Map.of("iface_id", "eth0", "host_dev_name", t))));
        return m;
    }
}
