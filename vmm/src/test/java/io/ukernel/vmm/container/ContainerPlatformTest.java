package io.ukernel.vmm.container;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.platform.process.HostSandbox;
import io.ukernel.platform.process.ProcessPlatform;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the container's kernel says about the runtime and what to change when strict mode cannot be honoured. */
class ContainerPlatformTest {
    static final HostSandbox FULL = new HostSandbox(6, true, null, false, true, "in a user namespace");
    static final HostSandbox NO_LANDLOCK = new HostSandbox(0, true, null, false, true, "in a user namespace");
    static final HostSandbox NO_USERNS = new HostSandbox(6, true, null, false, false,
            "user.max_user_namespaces = 0");

    @Test
    void detectsGvisorPodmanDockerAndKubernetes(@TempDir Path root) throws Exception {
        Files.createDirectories(root.resolve("proc"));
        Files.writeString(root.resolve("proc/version"), "Linux version 4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016\n");
        assertEquals("gVisor (runsc), Kubernetes pod", ContainerPlatform.detectRuntime(root,
                Map.of("KUBERNETES_SERVICE_HOST", "10.0.0.1")));
        Files.writeString(root.resolve("proc/version"), "Linux version 6.1.0 (debian-kernel@lists.debian.org)\n");
        assertTrue(ContainerPlatform.detectRuntime(root, Map.of()).startsWith("runtime not identified"));
        Files.createDirectories(root.resolve("run"));
        Files.writeString(root.resolve("run/.containerenv"), "");
        assertEquals("Podman", ContainerPlatform.detectRuntime(root, Map.of()));
    }

    @Test
    void strict_refusesWithoutLandlock_sayingWhatToChange_perRuntime() {
        ProcessPlatform.Sandbox strict = new ProcessPlatform.Sandbox(true, null, "auto");
        assertNull(ContainerInit.refusal(FULL, strict, "runtime not identified"));
        String gvisor = ContainerInit.refusal(NO_LANDLOCK, strict, "gVisor (runsc)");
        assertTrue(gvisor.contains("refuses to start: this container cannot confine workers: no Landlock"), gvisor);
        assertTrue(gvisor.contains("gVisor implements no Landlock") && gvisor.contains("mode = \"off\""), gvisor);
        assertTrue(gvisor.contains("--insecure-no-sandbox"), gvisor);
        String runc = ContainerInit.refusal(NO_LANDLOCK, strict, "runtime not identified");
        assertTrue(runc.contains("Linux >= 5.13 with landlock in its LSMs"), runc);
    }

    @Test
    void namespacesOn_refusesWhereTheContainerAllowsNone_autoRuns() {
        assertNull(ContainerInit.refusal(NO_USERNS, new ProcessPlatform.Sandbox(true, null, "auto"), "x"));
        String on = ContainerInit.refusal(NO_USERNS, new ProcessPlatform.Sandbox(true, null, "on"), "x");
        assertTrue(on.contains("namespaces = \"on\" and this container allows none: user.max_user_namespaces = 0"), on);
    }

    @Test
    void workersGetTheContainersEnvironment_lessTheRuntimesOwn() {
        Map<String, String> env = ContainerInit.environment(Map.of("PATH", "/bin", "HOSTNAME", "pod-1", "PORT", "8007",
                "API_TOKEN", "t", "HOME", "/tmp"));
        assertEquals(Map.of("PORT", "8007", "API_TOKEN", "t"), env);
    }
}
