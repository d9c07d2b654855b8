package io.ukernel.vmm.firecracker.request;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code PUT /machine-config} (swagger {@code MachineConfiguration}).
 *
 * @param vcpuCount vCPUs, 1..32 (1 or even with SMT)
 * @param memSizeMib guest memory, MiB
 */
public record MachineConfig(int vcpuCount, int memSizeMib) implements FirecrackerRequest {
    @Override
    public String path() {
        return "/machine-config";
    }

    @Override
    public Map<String, Object> body() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vcpu_count", vcpuCount);
        m.put("mem_size_mib", memSizeMib);
        m.put("smt", false);
        return m;
    }
}
