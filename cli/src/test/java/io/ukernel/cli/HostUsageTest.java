package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/** A task's usage counts its whole process tree: the worker beneath the supervisor, and its children. */
@EnabledOnOs(OS.LINUX)
class HostUsageTest {
    @Test
    void usageSumsTheProcessTree() throws Exception {
        Process p = new ProcessBuilder("/bin/sh", "-c", "/bin/sleep 600 & /bin/sleep 600").start();
        try {
            long pid = p.pid();
            List<Long> children = List.of();
            long deadline = System.nanoTime() + 60_000_000_000L; // bounds a hang only
            while (children.size() < 2 && System.nanoTime() < deadline) {
                String text = Files.readString(Path.of("/proc", Long.toString(pid), "task", Long.toString(pid),
                        "children")).trim();
                children = text.isEmpty() ? List.of() : java.util.Arrays.stream(text.split(" "))
                        .map(Long::parseLong).toList();
                Thread.onSpinWait();
            }
            assertEquals(2, children.size(), "the shell's two children");
            long own = Host.procUsageOne(pid)[1];
            long all = Host.procUsage(pid)[1];
            long kids = Host.procUsageOne(children.get(0))[1] + Host.procUsageOne(children.get(1))[1];
            assertTrue(own > 0 && kids > 0, own + " " + kids);
            assertTrue(all >= own + kids, all + " < " + own + " + " + kids);
            assertEquals(0, Host.procUsage(-1)[1]);
        } finally {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor();
        }
    }
}
