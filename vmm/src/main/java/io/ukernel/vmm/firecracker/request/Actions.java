package io.ukernel.vmm.firecracker.request;

import java.util.Map;

/**
 * {@code PUT /actions} (swagger {@code InstanceActionInfo}): start the guest, or press Ctrl-Alt-Del in it.
 *
 * @param actionType {@code InstanceStart}, {@code SendCtrlAltDel} or {@code FlushMetrics}
 */
public record Actions(String actionType) implements FirecrackerRequest {
    /** Boots the configured VM. */
    public static Actions instanceStart() {
        return new Actions("InstanceStart");
    }

    /** Ctrl-Alt-Del on the guest's i8042 keyboard: a ukernel guest stops its app and ends the VM. */
    public static Actions sendCtrlAltDel() {
        return new Actions("SendCtrlAltDel");
    }

    @Override
    public String path() {
        return "/actions";
    }

    @Override
    public Map<String, Object> body() {
        return Map.of("action_type", actionType);
    }
}
