package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Red team: the console logs were world-readable (logs/ and each instance directory 0755, console.log 0644), so
 * any local user of the host could read what every app printed (tokens, customer data in an app's own lines)
 * wherever the app directory is reachable, e.g. under /srv. They are the kernel user's now: logs/ and each
 * instance directory 0700 (when the kernel creates them; an existing logs/ keeps the mode its owner chose, the new
 * instance directory beneath it is private all the same).
 */
class InstanceLogPrivacyTest {
    @TempDir
    Path app;

    @Test
    void logs_arePrivateToTheKernelsUser() throws Exception {
        try (InstanceLog il = InstanceLog.create(app, "demo", 1_000)) {
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(app.resolve("logs"))));
            Path dir = app.resolve("logs").resolve(il.id());
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        }
        Files.setPosixFilePermissions(app.resolve("logs"), PosixFilePermissions.fromString("rwxr-xr-x"));
        try (InstanceLog il = InstanceLog.create(app, "demo", 2_000)) {
            Path dir = app.resolve("logs").resolve(il.id());
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
            assertTrue(Files.isReadable(app.resolve("logs/console.log")), "the owner still reads the latest log");
        }
    }

    @Test
    void aLinkedLogsDirectoryIsRefusedAndItsTargetUntouched(@TempDir Path elsewhere) throws Exception {
        Files.createSymbolicLink(app.resolve("logs"), elsewhere);
        java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> InstanceLog.create(app, "demo", 1_000));
        assertTrue(e.getMessage().contains("is a symbolic link") && e.getMessage().contains("rm "), e.getMessage());
        try (var s = Files.list(elsewhere)) {
            assertEquals(0, s.count(), "nothing was created through the link");
        }
    }

    @Test
    void aLogsDirectoryOwnedByAnotherUserIsRefused() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
                "needs root to give logs/ to another user");
        Path logs = Files.createDirectory(app.resolve("logs"));
        Files.setAttribute(logs, "unix:uid", 65534);
        java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> InstanceLog.create(app, "demo", 1_000));
        assertTrue(e.getMessage().contains("belongs to uid 65534"), e.getMessage());
        try (var s = Files.list(logs)) {
            assertEquals(0, s.count(), "the instance directory made meanwhile is removed again");
        }
    }
}
