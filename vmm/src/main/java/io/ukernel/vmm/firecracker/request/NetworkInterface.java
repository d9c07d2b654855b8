package io.ukernel.vmm.firecracker.request;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * {@code PUT /network-interfaces/{iface_id}} (swagger {@code NetworkInterface}): a virtio-net device on a host
 * tap device.
 *
 * @param ifaceId     the id, {@code [A-Za-z0-9_]+}, also in the path
 * @param hostDevName the tap device, e.g. {@code tap0}
 * @param guestMac    the guest's MAC address, if fixed
 */
public record NetworkInterface(String ifaceId, String hostDevName, Optional<String> guestMac)
        implements FirecrackerRequest {
    public NetworkInterface {
        Ids.check(ifaceId, "iface_id");
    }

    @Override
    public String path() {
        return "/network-interfaces/" + ifaceId;
    }

    @Override
    public Map<String, Object> body() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("iface_id", ifaceId);
        m.put("host_dev_name", hostDevName);
        guestMac.ifPresent(mac -> m.put("guest_mac", mac));
        return m;
    }
}
