package io.ukernel.vmm.firecracker.request;

import java.util.Map;

/**
 * {@code PATCH /vm} (swagger {@code Vm}): pause or resume a running microVM; a snapshot is created of a paused one.
 *
 * @param state {@code Paused} or {@code Resumed}
 */
public record Vm(String state) implements FirecrackerRequest {
    /** Pauses the vCPUs. */
    public static Vm paused() {
        return new Vm("Paused");
    }

    /** Resumes them. */
    public static Vm resumed() {
        return new Vm("Resumed");
    }

    @Override
    public String method() {
        return "PATCH";
    }

    @Override
    public String path() {
        return "/vm";
    }

    @Override
    public Map<String, Object> body() {
        return Map.of("state", state);
    }
}
