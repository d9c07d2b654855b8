package io.ukernel.vmm.firecracker.request;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code PUT /drives/{drive_id}} (swagger {@code Drive}): a virtio block device backed by a host file.
 *
 * @param driveId      the id, {@code [A-Za-z0-9_]+}, also in the path
 * @param pathOnHost   the backing file
 * @param isRootDevice whether the guest mounts it as {@code /}
 * @param isReadOnly   whether the guest may not write it
 */
public record Drive(String driveId, String pathOnHost, boolean isRootDevice, boolean isReadOnly)
        implements FirecrackerRequest {
    public Drive {
        Ids.check(driveId, "drive_id");
    }

    @Override
    public String path() {
        return "/drives/" + driveId;
    }

    @Override
    public Map<String, Object> body() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("drive_id", driveId);
        m.put("path_on_host", pathOnHost);
        m.put("is_root_device", isRootDevice);
        m.put("is_read_only", isReadOnly);
        return m;
    }
}
