package io.ukernel.kernel.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.kernel.FakeClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConsoleTest {
    @Test
    void everyLine_isInTheLogFileBeforeWriteReturns(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("logs/console.log");
        try (Console c = Console.open(new FakeClock(), LineFormat.TEXT, null, log, false)) {
            c.kernel(Level.INFO, "booting");
            // No close, no flush call: the line must already be on disk (a crash right now loses nothing).
            assertEquals(List.of("[    0.000000] kernel#0 INFO  booting"), Files.readAllLines(log));
        }
    }

    @Test
    void previousLog_isKeptAsDotOne(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("console.log");
        Files.writeString(log, "old run\n");
        try (Console c = Console.open(new FakeClock(), LineFormat.TEXT, null, log, false)) {
            c.kernel(Level.INFO, "new run");
        }
        assertEquals("old run\n", Files.readString(dir.resolve("console.log.1")));
        assertTrue(Files.readString(log).contains("new run"));
    }

    @Test
    void debugLines_areDroppedUnlessAskedFor(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("console.log");
        try (Console c = Console.open(new FakeClock(), LineFormat.TEXT, null, log, false)) {
            c.kernel(Level.DEBUG, "noise");
        }
        assertEquals("", Files.readString(log));
    }
}
