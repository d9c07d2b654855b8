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

/** {@code ukernel logs [DIR|NAME] [-f] [-n N] [--since T] [-t]}: show, and optionally follow, a console log. */
@Command(
        name = "logs",
        header = "Show or follow an app's console log.",
        mixinStandardHelpOptions = true,
        description = {
            "Print an app's console log: every line the kernel and the workers wrote. Given a directory (default: "
                    + ".), its logs/console.log, the latest run's log. Given the NAME of an app of the resident "
                    + "host (`ukernel ps`), that instance's log; the name of a foreground run, its directory's. With "
                    + "--follow, keep printing new lines as they are written, across restarts of `ukernel run` (a "
                    + "new log is picked up from its start), until Ctrl-C."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel logs                        the whole log of the last run",
            "  ukernel logs -n 20                  its last 20 lines",
            "  ukernel logs -f                     follow it (Ctrl-C stops)",
            "  ukernel logs examples/hello -n 0 -f only new lines",
            "  ukernel logs web -f --since 10m     the host's app web, from 10 minutes ago on",
            "  ukernel logs web -t                 with wall-clock times"
        })
public final class LogsCommand implements Callable<Integer> {
    /** The log, relative to the app directory. */
    public static final String LOG = "logs/console.log";

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "DIR|NAME",
            description = "The app directory (default: .), or the name of a running app.")
    String target = ".";

    /** The app directory, when {@link #target} named one. */
    Path dir;

    @Option(names = {"-t", "--timestamps"},
            description = "Prefix each line with its wall-clock time (UTC, ISO 8601); the console's own prefix "
                    + "counts seconds since the kernel booted.")
    boolean timestamps;

    @Option(names = "--since", paramLabel = "WHEN",
            description = "Only lines written since WHEN: a duration ago (30s, 10m, 2h) or a time (2026-12-04T14:00:00Z).")
    String since;

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
        Path log;
        try {
            log = resolve(err);
        } catch (UserError e) {
            err.println("ukernel logs: " + e.getMessage());
            err.flush();
            return 1;
        }
        if (log == null) {
            return 1;
        }
        if (since != null) {
            try {
                sinceMs = parseSince(since, System.currentTimeMillis());
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
        }
        try {
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

    /** Milliseconds since the epoch of --since, or Long.MIN_VALUE. */
    private long sinceMs = Long.MIN_VALUE;
    /** The boot time the current log's seconds count from (instance.json), or -1 when unknown. */
    private long bootWallMs = -1;
    /** Whether the last line with a time prefix was kept (lines without one follow it). */
    private boolean keeping = true;

    /**
     * The log to read: {@code DIR/logs/console.log} for a directory, else the log of the host's app or of the
     * foreground run of that name. Null (after a message) when there is none.
     */
    private Path resolve(PrintWriter err) throws UserError {
        Path asDir = Path.of(target);
        if (Files.isDirectory(asDir)) {
            dir = asDir;
            return dir.resolve(LOG);
        }
        HostClient client = HostClient.local();
        if (client.running()) {
            try {
                HostHttp.Response r = client.raw("GET", "/apps/" + target, null);
                if (r.status() == 200) {
                    Object log = io.ukernel.app.json.Json.readObject(r.bodyText()).get("log");
                    if (log instanceof String s) {
                        return Path.of(s);
                    }
                }
            } catch (IOException e) {
                // fall through to the foreground runs
            }
        }
        for (RunRegistry.Entry e : RunRegistry.list()) {
            if (e.name().equals(target)) {
                dir = Path.of(e.appDir());
                return dir.resolve(LOG);
            }
        }
        throw new UserError(target + ": no such directory, and no app of that name runs (`ukernel ps -a` lists them)");
    }

    /** Parses --since: {@code 30s}, {@code 10m}, {@code 2h}, {@code 1d} ago, or an ISO-8601 instant. */
    static long parseSince(String s, long nowMs) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)([smhd])").matcher(s);
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            long unit = switch (m.group(2)) {
                case "s" -> 1000L;
                case "m" -> 60_000L;
                case "h" -> 3_600_000L;
                default -> 86_400_000L;
            };
            return nowMs - n * unit;
        }
        try {
            return java.time.Instant.parse(s).toEpochMilli();
        } catch (java.time.format.DateTimeParseException e) {
            throw new IllegalArgumentException("--since takes a duration (30s, 10m, 2h, 1d) or a UTC time "
                    + "(2026-12-04T14:00:00Z), got \"" + s + "\"");
        }
    }

    /** Reads the boot time of the instance the log belongs to (its directory's instance.json). */
    private void loadBoot(Path log) {
        bootWallMs = -1;
        if (!timestamps && since == null) {
            return;
        }
        try {
            Path meta = log.toRealPath().getParent().resolve("instance.json");
            Object b = io.ukernel.app.json.Json.readObject(Files.readString(meta, StandardCharsets.UTF_8))
                    .get("boot_wall_ms");
            bootWallMs = ((Number) b).longValue();
        } catch (IOException | RuntimeException e) {
            bootWallMs = -1;
        }
    }

    /** The line as printed (with -t its time first), or null when --since drops it. */
    String render(String line) {
        if (!timestamps && since == null) {
            return line;
        }
        long wall = wallMs(line, bootWallMs);
        if (wall != Long.MIN_VALUE) {
            keeping = wall >= sinceMs;
        }
        if (!keeping) {
            return null;
        }
        if (!timestamps) {
            return line;
        }
        String t = wall == Long.MIN_VALUE ? "-" : java.time.Instant.ofEpochMilli(wall).toString();
        return t + " " + line;
    }

    /** A text console line's wall-clock time: boot + its "[   1.002341]" prefix; Long.MIN_VALUE when unknown. */
    static long wallMs(String line, long bootWallMs) {
        if (bootWallMs < 0 || !line.startsWith("[")) {
            if (line.startsWith("{\"t\":")) {
                int i = line.indexOf("\"wall_ms\":");
                if (i > 0) {
                    int j = i + 10;
                    int k = j;
                    while (k < line.length() && Character.isDigit(line.charAt(k))) {
                        k++;
                    }
                    if (k > j) {
                        return Long.parseLong(line.substring(j, k));
                    }
                }
            }
            return Long.MIN_VALUE;
        }
        int close = line.indexOf(']');
        if (close < 0) {
            return Long.MIN_VALUE;
        }
        try {
            double secs = Double.parseDouble(line.substring(1, close).trim());
            return bootWallMs + (long) (secs * 1000);
        } catch (NumberFormatException e) {
            return Long.MIN_VALUE;
        }
    }

    /**
     * Prints the last {@link #lines} lines (or everything) and returns the offset printed up to: when following,
     * an unfinished last line is left for {@link #follow} to print once it is complete.
     */
    private long printTail(Path log, PrintWriter out) throws IOException {
        loadBoot(log);
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
                    loadBoot(log);
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
                    partial.write(bytes, lineStart, i - lineStart);
                    String line = render(partial.toString(StandardCharsets.UTF_8));
                    if (line != null) {
                        out.print(line + "\n");
                    }
                    partial.reset();
                    lineStart = i + 1;
                }
            }
            partial.write(bytes, lineStart, n - lineStart);
        }
        if (!follow && partial.size() > 0) {
            String line = render(partial.toString(StandardCharsets.UTF_8)); // a last line without newline
            if (line != null) {
                out.println(line);
            }
            partial.reset();
        }
        return pos;
    }
}
