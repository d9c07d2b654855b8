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

    // --- a worker's text cannot forge the console ----------------------------------------------------------------

    @Test
    void output_newlineAndCarriageReturn_cannotStartALineOfTheirOwn(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("console.log");
        try (Console c = Console.open(new FakeClock(), LineFormat.TEXT, null, log, false)) {
            c.output("evil", 3, Level.INFO, null, "ok\n[    0.000000] kernel#0 WARN  forged\rkernel#0 ERROR again");
        }
        assertEquals(List.of("[    0.000000] evil#3 INFO  ok\\n[    0.000000] kernel#0 WARN  forged"
                + "\\rkernel#0 ERROR again"),
                Files.readAllLines(log));
    }

    @Test
    void kernelText_isStillOneLinePerLine(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("console.log");
        try (Console c = Console.open(new FakeClock(), LineFormat.TEXT, null, log, false)) {
            c.kernel(Level.ERROR, "kernel bug\n\tat Foo.bar");
        }
        assertEquals(List.of("[    0.000000] kernel#0 ERROR kernel bug", "[    0.000000] kernel#0 ERROR \\tat Foo.bar"),
                Files.readAllLines(log));
    }

    // --- rate limits (the fake clock stands still unless a test moves it) ------------------------------------

    private static final ConsoleLimits SMALL = new ConsoleLimits(new ConsoleLimits.Rate(10, 5, 1 << 20, 1 << 20),
            new ConsoleLimits.Rate(2, 2, 1 << 20, 1 << 20), 1_000_000_000L);

    @Test
    void output_overTheBurst_isDropped_andTheCountReportedAfterAnInterval(@TempDir Path dir) throws Exception {
        FakeClock clock = new FakeClock();
        Path log = dir.resolve("console.log");
        try (Console c = Console.open(clock, LineFormat.TEXT, SMALL, null, log, false)) {
            for (int i = 0; i < 100; i++) {
                c.output("flood", 4, Level.INFO, null, "line " + i);
            }
            assertEquals(5, Files.readAllLines(log).size(), "the burst of 5 passes, the rest is dropped");
            c.reportSuppressed(false);
            assertEquals(5, Files.readAllLines(log).size(), "no report before an interval has passed");
            clock.advance(1_000_000_000L);
            c.reportSuppressed(false);
            c.reportSuppressed(false);
        }
        List<String> lines = Files.readAllLines(log);
        assertEquals(6, lines.size(), String.join("\n", lines));
        assertEquals("[    0.000000] flood#4 INFO  line 4", lines.get(4));
        assertTrue(lines.get(5).startsWith("[    1.000000] flood#4 WARN  ukernel: 95 output lines of this task "
                + "suppressed (over the console limit of 10 lines/s (burst 5)"), lines.get(5));
    }

    @Test
    void output_refillsAtItsRate(@TempDir Path dir) throws Exception {
        FakeClock clock = new FakeClock();
        Path log = dir.resolve("console.log");
        try (Console c = Console.open(clock, LineFormat.TEXT, SMALL, null, log, false)) {
            for (int i = 0; i < 5; i++) {
                c.output("t", 1, Level.OUT, null, "burst " + i);
            }
            c.output("t", 1, Level.OUT, null, "dropped");
            clock.advance(100_000_000L); // 10 lines/s: one more line after 100 ms
            c.output("t", 1, Level.OUT, null, "refilled");
            c.output("t", 1, Level.OUT, null, "dropped again");
        }
        String all = Files.readString(log);
        assertTrue(all.contains("refilled") && !all.contains("dropped"), all);
    }

    @Test
    void suppressionReport_atMostOncePerInterval_evenUnderAContinuousFlood(@TempDir Path dir) throws Exception {
        FakeClock clock = new FakeClock();
        Path log = dir.resolve("console.log");
        try (Console c = Console.open(clock, LineFormat.JSON, SMALL, null, log, false)) {
            for (int ms = 0; ms < 3000; ms++) { // 3 s of 20 lines per millisecond
                for (int i = 0; i < 20; i++) {
                    c.output("flood", 4, Level.INFO, null, "x");
                }
                clock.advance(1_000_000L);
            }
        }
        List<String> reports = Files.readAllLines(log).stream().filter(l -> l.contains("console.suppressed")).toList();
        assertEquals(2, reports.size(), "a report 1 s after the first drop, and 1 s after that: " + reports);
        assertTrue(reports.getFirst().contains("\"task\":\"flood\",\"tid\":4,\"level\":\"WARN\""), reports.getFirst());
    }

    @Test
    void tasks_andKinds_haveSeparateBudgets(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("console.log");
        try (Console c = Console.open(new FakeClock(), LineFormat.TEXT, SMALL, null, log, false)) {
            for (int i = 0; i < 50; i++) {
                c.output("flood", 4, Level.OUT, null, "noise");
            }
            c.audit("flood", 4, Level.WARN, "call.denied", "denied, still shown");
            c.output("bystander", 5, Level.OUT, null, "bystander still shown");
            for (int i = 0; i < 50; i++) {
                c.audit("flood", 4, Level.WARN, "call.denied", "denied again");
            }
            c.event("flood", 4, Level.INFO, "task.exit", "lifecycle events are never limited");
            c.reportSuppressed(4);
        }
        String all = Files.readString(log);
        assertTrue(all.contains("denied, still shown") && all.contains("bystander still shown")
                && all.contains("lifecycle events are never limited"), all);
        assertTrue(all.contains("flood#4 WARN  ukernel: 45 output lines of this task suppressed"), all);
        assertTrue(all.contains("flood#4 WARN  ukernel: 49 audit lines of this task suppressed"), all);
    }

    @Test
    void bytes_areLimitedToo(@TempDir Path dir) throws Exception {
        ConsoleLimits bytes = new ConsoleLimits(new ConsoleLimits.Rate(1000, 1000, 1000, 4000),
                new ConsoleLimits.Rate(1, 1, 1, 1), 1_000_000_000L);
        Path log = dir.resolve("console.log");
        try (Console c = Console.open(new FakeClock(), LineFormat.TEXT, bytes, null, log, false)) {
            for (int i = 0; i < 10; i++) {
                c.output("big", 2, Level.INFO, null, "y".repeat(1000));
            }
        }
        assertEquals(4, Files.readAllLines(log).size(), "4000 bytes of burst: four lines of 1000");
    }

    @Test
    void droppedDebugLines_costNothing(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("console.log");
        try (Console c = Console.open(new FakeClock(), LineFormat.TEXT, SMALL, null, log, false)) {
            for (int i = 0; i < 50; i++) {
                c.audit("t", 1, Level.DEBUG, "call.error", "not shown without --debug");
            }
            c.audit("t", 1, Level.WARN, "call.denied", "shown");
            c.reportSuppressed(true);
        }
        assertEquals(1, Files.readAllLines(log).size());
    }

    @Test
    void forget_reportsWhatWasPending_andATaskGoneForGoodFreesItsBudget(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("console.log");
        try (Console c = Console.open(new FakeClock(), LineFormat.TEXT, SMALL, null, log, false)) {
            for (int i = 0; i < 8; i++) {
                c.output("gone", 9, Level.OUT, null, "line " + i);
            }
            c.forget(9);
            c.output("gone", 9, Level.OUT, null, "a new task with that id starts with a full budget");
        }
        String all = Files.readString(log);
        assertTrue(all.contains("gone#9 WARN  ukernel: 3 output lines of this task suppressed"), all);
        assertTrue(all.contains("starts with a full budget"), all);
    }

    @Test
    void share_spawnedTasks_writeWithinTheirParentsBudget_evenAfterTheParentIsGone(@TempDir Path dir)
            throws Exception {
        Path log = dir.resolve("console.log");
        try (Console c = Console.open(new FakeClock(), LineFormat.TEXT, SMALL, null, log, false)) {
            c.output("parent", 2, Level.OUT, null, "parent line");
            for (int child = 10; child < 14; child++) {
                c.share(child, 2, "parent");
                c.share(child + 10, child, "child"); // a grandchild: still the parent's budget
                for (int i = 0; i < 5; i++) {
                    c.output("child", child, Level.OUT, null, "child line");
                    c.output("grandchild", child + 10, Level.OUT, null, "grandchild line");
                }
                c.forget(child + 10);
                c.forget(child);
            }
            c.share(30, 2, "parent");
            c.forget(2); // the parent is gone, its child is not: the child keeps the (spent) budget
            c.output("late", 30, Level.OUT, null, "late line");
            c.forget(30);
        }
        String all = Files.readString(log);
        long shown = all.lines().filter(l -> l.endsWith(" line")).count();
        assertEquals(5, shown, "one burst of 5 for the whole tree:\n" + all);
        // every dropped line counted once, in the owner's name: 1 + 4 × 10 + 1 written, 5 shown
        long suppressed = all.lines().filter(l -> l.contains(" of this task suppressed"))
                .peek(l -> assertTrue(l.contains("parent#2 WARN  ukernel: "), l))
                .mapToLong(l -> Long.parseLong(l.split("ukernel: ", 2)[1].split(" ", 2)[0])).sum();
        assertEquals(37, suppressed, all);
    }

    @Test
    void debugAuditLines_haveTheirOwnBudget_andCannotCrowdOutDenials(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("console.log");
        try (Console c = Console.open(new FakeClock(), LineFormat.TEXT, SMALL, null, log, true)) {
            for (int i = 0; i < 50; i++) {
                c.audit("t", 1, Level.DEBUG, "call.error", "net_recv: ERR_WOULDBLOCK");
            }
            c.audit("t", 1, Level.WARN, "call.denied", "a denial still shown");
            c.reportSuppressed(true);
        }
        String all = Files.readString(log);
        assertTrue(all.contains("a denial still shown"), all);
        assertTrue(all.contains("t#1 WARN  ukernel: 45 debug lines of this task suppressed"), all);
    }
}
