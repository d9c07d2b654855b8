package io.ukernel.vmm.firecracker.request;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code PUT /snapshot/create} (swagger {@code SnapshotCreateParams}): a full snapshot of a paused microVM — its
 * state (vCPUs, devices) in one file, its memory in another.
 *
 * @param snapshotPath where the state goes
 * @param memFilePath  where the guest memory goes
 */
public record SnapshotCreate(String snapshotPath, String memFilePath) implements FirecrackerRequest {
    @Override
    public String path() {
        return "/snapshot/create";
    }

    @Override
    public Map<String, Object> body() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("snapshot_path", snapshotPath);
        m.put("mem_file_path", memFilePath);
        m.put("snapshot_type", "Full");
        return m;
    }
}
