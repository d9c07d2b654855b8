package io.ukernel.kernel.console;

import io.ukernel.kernel.KernelClock;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The kernel console: every line goes to the terminal and to {@code logs/console.log}, flushed per line so
 * nothing is lost when the kernel or a worker crashes. This is the one object several threads write to (the
 * reactor, and the threads pumping workers' stdout/stderr), so {@link #write} is synchronized; nothing else in
 * the kernel takes a lock.
 */
public final class Console implements AutoCloseable {
    private final KernelClock clock;
    private final LineFormat format;
    private final List<PrintStream> sinks = new ArrayList<>();
    private final OutputStream file;
    private final boolean debug;
    private boolean closed;

    private Console(KernelClock clock, LineFormat format, PrintStream terminal, OutputStream file, boolean debug) {
        this.clock = clock;
        this.format = format;
        this.file = file;
        this.debug = debug;
        if (terminal != null) {
            sinks.add(terminal);
        }
        if (file != null) {
            sinks.add(new PrintStream(file, false, StandardCharsets.UTF_8));
        }
    }

    /**
     * Opens a console writing to {@code terminal} (may be null) and to {@code logFile} (may be null). An existing
     * log is kept as {@code console.log.1} so the previous run can still be read. {@code DEBUG} lines are dropped
     * unless {@code debug}.
     */
    public static Console open(KernelClock clock, LineFormat format, PrintStream terminal, Path logFile,
            boolean debug) throws IOException {
        OutputStream out = null;
        if (logFile != null) {
            Files.createDirectories(logFile.toAbsolutePath().getParent());
            if (Files.exists(logFile)) {
                Files.move(logFile, logFile.resolveSibling(logFile.getFileName() + ".1"),
                        StandardCopyOption.REPLACE_EXISTING);
            }
            out = Files.newOutputStream(logFile, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
        return new Console(clock, format, terminal, out, debug);
    }

    /** Writes a kernel line. */
    public void kernel(Level level, String text) {
        write("kernel", 0, level, null, text);
    }

    /** Writes a kernel event line (machine-readable {@code event} in JSON). */
    public void event(String task, int taskId, Level level, String event, String text) {
        write(task, taskId, level, event, text);
    }

    /** Writes one line per line of {@code text}. Safe from any thread. */
    public void write(String task, int taskId, Level level, String event, String text) {
        if (level == Level.DEBUG && !debug) {
            return;
        }
        long mono = clock.monotonicNs();
        long wall = clock.wallNs() / 1_000_000;
        int start = 0;
        do {
            int nl = text.indexOf('\n', start);
            String part = nl < 0 ? text.substring(start) : text.substring(start, nl);
            emit(format.render(new ConsoleLine(mono, wall, task, taskId, level, event, stripCr(part))));
            start = nl < 0 ? -1 : nl + 1;
        } while (start > 0 && start < text.length());
    }

    private static String stripCr(String s) {
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
    }

    private synchronized void emit(String rendered) {
        if (closed) {
            return;
        }
        for (PrintStream sink : sinks) {
            sink.println(rendered);
            sink.flush();
        }
    }

    @Override
    public synchronized void close() throws IOException {
        closed = true;
        if (file != null) {
            file.close();
        }
    }
}
