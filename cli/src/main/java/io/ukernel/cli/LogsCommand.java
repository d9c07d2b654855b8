package io.ukernel.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ukernel logs [DIR] [-f] [-n N]}: show, and optionally follow, {@code logs/console.log}. */
@Command(
        name = "logs",
        header = "Show or follow the console log, logs/console.log.",
        mixinStandardHelpOptions = true,
        description = {
            "Print the app's console log (logs/console.log): every line the kernel and the workers wrote in the "
                    + "last run. With --follow, keep printing new lines as they are written, across restarts of "
                    + "`ukernel run` (a new log is picked up from its start), until Ctrl-C."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel logs                        the whole log of the last run",
            "  ukernel logs -n 20                  its last 20 lines",
            "  ukernel logs -f                     follow it (Ctrl-C stops)",
            "  ukernel logs examples/hello -n 0 -f only new lines"
        })
public final class LogsCommand implements Callable<Integer> {
    /** The log, relative to the app directory. */
    public static final String LOG = "logs/console.log";

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "DIR", description = "The app directory (default: .)")
    Path dir = Path.of(".");

    @Option(names = {"-f", "--follow"}, description = "Keep printing lines as they are written.")
    boolean follow;

    @Option(names = {"-n", "--lines"}, paramLabel = "N", description = "Print only the last N lines (default: all).")
    Integer lines;

    /** How often --follow looks for new lines. */
    long pollMillis = 200;

    @Override
    public Integer call() {
        if (lines != null && lines < 0) {
            throw new ParameterException(spec.commandLine(), "--lines must be 0 or more, got " + lines);
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Path log = dir.resolve(LOG);
        try {
            if (!Files.isDirectory(dir)) {
                err.println("ukernel logs: " + dir + ": no such directory");
                return 1;
            }
            if (!Files.exists(log)) {
                if (!follow) {
                    err.println("ukernel logs: no logs yet: run `ukernel run` first (" + InitCommand.display(log)
                            + " does not exist)");
                    return 1;
                }
                err.println("ukernel logs: no logs yet; waiting for `ukernel run` to write "
                        + InitCommand.display(log) + " (Ctrl-C stops)");
                err.flush();
            }
            long position = Files.exists(log) ? printTail(log, out) : 0;
            if (follow) {
                try {
                    follow(log, position, out);
                } catch (InterruptedException stopped) {
                    Thread.currentThread().interrupt(); // asked to stop: a normal end of --follow
                }
            }
            return 0;
        } catch (IOException e) {
            err.println("ukernel logs: cannot read " + log + ": " + e.getMessage());
            return 1;
        } finally {
            out.flush();
            err.flush();
        }
    }

    /**
     * Prints the last {@link #lines} lines (or everything) and returns the offset printed up to: when following,
     * an unfinished last line is left for {@link #follow} to print once it is complete.
     */
    private long printTail(Path log, PrintWriter out) throws IOException {
        try (FileChannel ch = FileChannel.open(log, StandardOpenOption.READ)) {
            long size = ch.size();
            long start = lines == null ? 0 : startOfLastLines(ch, size, lines);
            ByteArrayOutputStream partial = new ByteArrayOutputStream();
            long end = copy(ch, start, size, out, partial);
            return end - partial.size();
        }
    }

    /** Offset where the last {@code n} lines start (a final line without newline counts as a line). */
    static long startOfLastLines(FileChannel ch, long size, int n) throws IOException {
        if (n == 0 || size == 0) {
            return size;
        }
        ByteBuffer buf = ByteBuffer.allocate(8192);
        long pos = size;
        int newlines = 0;
        boolean skipFinal = true; // the newline ending the last line does not start a new one
        while (pos > 0) {
            int len = (int) Math.min(buf.capacity(), pos);
            pos -= len;
            buf.clear().limit(len);
            while (buf.hasRemaining()) {
                if (ch.read(buf, pos + buf.position()) < 0) {
                    break;
                }
            }
            for (int i = len - 1; i >= 0; i--) {
                if (buf.get(i) == '\n') {
                    if (skipFinal && pos + i == size - 1) {
                        continue;
                    }
                    if (++newlines == n) {
                        return pos + i + 1;
                    }
                }
            }
            skipFinal = false;
        }
        return 0;
    }

    /**
     * Polls the log, printing complete lines as they arrive. A file that shrank was truncated and one with a
     * different identity was replaced (a new run rotated the old log away): either is read from its start.
     */
    private void follow(Path log, long position, PrintWriter out) throws IOException, InterruptedException {
        Object key = fileKey(log);
        ByteArrayOutputStream partial = new ByteArrayOutputStream();
        while (!Thread.currentThread().isInterrupted()) {
            Object now = fileKey(log);
            if (now != null) {
                long size = Files.size(log);
                if (!Objects.equals(now, key) || size < position) {
                    position = 0;
                    partial.reset();
                    key = now;
                }
                if (size > position) {
                    try (FileChannel ch = FileChannel.open(log, StandardOpenOption.READ)) {
                        position = copy(ch, position, ch.size(), out, partial);
                    }
                    out.flush();
                }
            }
            Thread.sleep(pollMillis);
        }
    }

    private static Object fileKey(Path log) throws IOException {
        try {
            BasicFileAttributes a = Files.readAttributes(log, BasicFileAttributes.class);
            return a.fileKey() != null ? a.fileKey() : a.creationTime();
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /**
     * Prints bytes {@code from..to} as UTF-8, whole lines only when following ({@code partial} keeps the
     * unfinished tail between polls so a multi-byte character is never split); returns the new offset.
     */
    private long copy(FileChannel ch, long from, long to, PrintWriter out, ByteArrayOutputStream partial)
            throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(65536);
        long pos = from;
        while (pos < to) {
            buf.clear();
            int n = ch.read(buf, pos);
            if (n <= 0) {
                break;
            }
            pos += n;
            byte[] bytes = buf.array();
            int lineStart = 0;
            for (int i = 0; i < n; i++) {
                if (bytes[i] == '\n') {
                    partial.write(bytes, lineStart, i + 1 - lineStart);
                    out.print(partial.toString(StandardCharsets.UTF_8));
                    partial.reset();
                    lineStart = i + 1;
                }
            }
            partial.write(bytes, lineStart, n - lineStart);
        }
        if (!follow && partial.size() > 0) {
            out.println(partial.toString(StandardCharsets.UTF_8)); // a last line without newline
            partial.reset();
        }
        return pos;
    }
}
