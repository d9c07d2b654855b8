package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class LogsCommandTest {
    @TempDir
    Path app;
    Path log;

    @BeforeEach
    void setUp() throws Exception {
        log = app.resolve("logs/console.log");
    }

    private void write(String text) throws Exception {
        Files.createDirectories(log.getParent());
        Files.writeString(log, text);
    }

    private void append(String text) throws Exception {
        Files.writeString(log, text, StandardOpenOption.APPEND);
    }

    @Test
    void logs_missingLogSaysToRun() {
        CliTesting.Run r = CliTesting.run(new LogsCommand(), app.toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("no logs yet: run `ukernel run` first"), r.err());
    }

    @Test
    void logs_printsAll() throws Exception {
        write("one\ntwo\nthree\n");
        CliTesting.Run r = CliTesting.run(new LogsCommand(), app.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals("one\ntwo\nthree\n", r.out());
    }

    @Test
    void logs_lastLines() throws Exception {
        write("one\ntwo\nthree\n");
        assertEquals("two\nthree\n", CliTesting.run(new LogsCommand(), app.toString(), "-n", "2").out());
        assertEquals("one\ntwo\nthree\n", CliTesting.run(new LogsCommand(), app.toString(), "--lines", "10").out());
        assertEquals("", CliTesting.run(new LogsCommand(), app.toString(), "-n", "0").out());
        write("one\ntwo\nno newline");
        assertEquals("two\nno newline" + System.lineSeparator(),
                CliTesting.run(new LogsCommand(), app.toString(), "-n", "2").out());
    }

    @Test
    void logs_lastLinesOfALargeFile() throws Exception {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 20_000; i++) {
            b.append("line ").append(i).append('\n');
        }
        write(b.toString());
        assertEquals("line 19998\nline 19999\n", CliTesting.run(new LogsCommand(), app.toString(), "-n", "2").out());
    }

    @Test
    void logs_negativeLinesIsAUsageError() throws Exception {
        write("x\n");
        assertEquals(2, CliTesting.run(new LogsCommand(), app.toString(), "-n", "-1").exit());
    }

    @Test
    void follow_printsNewLinesAcrossTruncationAndRotation() throws Exception {
        write("old\n");
        StringWriter out = new StringWriter();
        LogsCommand cmd = new LogsCommand();
        cmd.pollMillis = 10;
        CommandLine cl = new CommandLine(cmd).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(new StringWriter()));
        AtomicInteger exit = new AtomicInteger(-1);
        Thread t = new Thread(() -> exit.set(cl.execute(app.toString(), "-f")));
        t.start();
        try {
            awaitOutput(out, "old\n");
            append("new 1\npartial");
            awaitOutput(out, "old\nnew 1\n");
            append(" line\n");
            awaitOutput(out, "old\nnew 1\npartial line\n");

            Files.writeString(log, "");               // truncated (found by size, whether or not a poll sees it empty)
            append("after truncate\n");
            awaitOutput(out, "old\nnew 1\npartial line\nafter truncate\n");

            Files.move(log, log.resolveSibling("console.log.1")); // rotated by a new run
            write("new run\n");
            awaitOutput(out, "old\nnew 1\npartial line\nafter truncate\nnew run\n");
        } finally {
            t.interrupt();
            t.join(HANG_MS);
        }
        assertEquals(0, exit.get());
    }

    @Test
    void follow_waitsForALogThatDoesNotExistYet() throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        LogsCommand cmd = new LogsCommand();
        cmd.pollMillis = 10;
        CommandLine cl = new CommandLine(cmd).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true));
        Thread t = new Thread(() -> cl.execute(app.toString(), "--follow"));
        t.start();
        try {
            awaitText(err, "waiting");  // it said it waits for the log, before the log exists
            write("first\n");
            awaitOutput(out, "first\n");
        } finally {
            t.interrupt();
            t.join(HANG_MS);
        }
    }

    /** Bounds a hang only: the waits below end as soon as the output is there. */
    private static final long HANG_MS = 60_000;

    private static void awaitText(StringWriter out, String needle) throws InterruptedException {
        long deadline = System.nanoTime() + HANG_MS * 1_000_000L;
        while (!out.toString().contains(needle)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no \"" + needle + "\" in " + out);
            }
            Thread.sleep(5);
        }
    }

    private static void awaitOutput(StringWriter out, String expected) throws InterruptedException {
        long deadline = System.nanoTime() + HANG_MS * 1_000_000L;
        while (!out.toString().equals(expected)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("expected output " + expected.replace("\n", "\\n") + " but got "
                        + out.toString().replace("\n", "\\n"));
            }
            Thread.sleep(5);
        }
    }

    @Test
    void help_hasExamples() {
        CliTesting.Run r = CliTesting.run(new LogsCommand(), "--help");
        assertEquals(0, r.exit());
        assertTrue(r.out().contains("Examples:") && r.out().contains("-f, --follow"), r.out());
    }
}
