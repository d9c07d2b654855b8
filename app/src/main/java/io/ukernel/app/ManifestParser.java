package io.ukernel.app;

import io.ukernel.abi.Cap;
import io.ukernel.kernel.policy.Policy.Limits;
import io.ukernel.app.Manifest.NetScope;
import io.ukernel.app.Manifest.Preopen;
import io.ukernel.app.Manifest.RestartPolicy;
import io.ukernel.app.Manifest.Sandbox;
import io.ukernel.app.Manifest.TaskSpec;
import io.ukernel.app.toml.Toml;
import io.ukernel.app.toml.TomlException;
import io.ukernel.app.toml.TomlTable;
import io.ukernel.app.toml.TomlTable.Entry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Reads and validates {@code ukernel.toml} into a {@link Manifest}. Every problem — a TOML syntax error, an
 * unknown key (with a did-you-mean), a value of the wrong type or out of range, an unknown capability, a scope
 * for a capability that is not granted — is a {@link ManifestException} naming the file, the line and the key.
 *
 * <p>Defaults: {@code entry = "src/main.py"}, {@code python = "3.11"}, no capabilities, {@link Limits#defaults()},
 * {@link RestartPolicy#never()} ({@code max_retries} becomes {@value #DEFAULT_MAX_RETRIES} when a restarting
 * policy is chosen without it). A {@code [[task]]} may hold the whole grant unless it lists {@code caps}, and
 * is started on {@code task_spawn} unless it says {@code start = "boot"}.
 */
public final class ManifestParser {
    /** Restarts allowed when {@code policy} is {@code on-failure} or {@code always} and no number is given. */
    public static final int DEFAULT_MAX_RETRIES = 5;
    /** The CPython version assumed when the manifest names none. */
    public static final String DEFAULT_PYTHON = "3.11";

    private static final List<String> ROOT_KEYS = List.of("name", "entry", "python", "caps", "limits", "restart", "task",
            "sandbox");
    private static final List<String> CAPS_KEYS = List.of("grant", "net", "io", "subprocess");
    private static final List<String> NET_KEYS = List.of("connect", "bind");
    private static final List<String> PREOPEN_KEYS = List.of("path", "mode");
    private static final List<String> LIMITS_KEYS = List.of("tasks", "handles", "channel_bytes", "socket_bytes",
            "queued_bytes", "net_bytes", "tmp_bytes");
    private static final List<String> RESTART_KEYS = List.of("policy", "max_retries", "backoff_ms", "backoff_max_ms");
    private static final List<String> SANDBOX_KEYS = List.of("mode", "namespaces");
    private static final List<String> TASK_KEYS = List.of("name", "entry", "caps", "start", "restart");
    private static final long HOUR_MS = 3_600_000;

    private final Path file;

    private ManifestParser(Path file) {
        this.file = file;
    }

    /** Whether {@code name} is a valid app or task name: {@code [a-z0-9][a-z0-9_-]{0,62}}. */
    public static boolean isValidName(String name) {
        return Checks.NAME.matcher(name).matches();
    }

    /**
     * Reads and validates a manifest file.
     *
     * @param file the {@code ukernel.toml}; messages name it as given
     * @return the validated manifest
     * @throws ManifestException if the file is missing, unreadable, not UTF-8, not TOML or not a valid manifest
     */
    public static Manifest parse(Path file) throws ManifestException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ManifestException(file, 0, "", "no such file (is this an app directory? `ukernel init NAME` creates one)");
        } catch (IOException e) {
            throw new ManifestException(file, 0, "", "cannot read: " + e);
        }
        return parse(file, decode(file, bytes));
    }

    /**
     * Validates manifest text, as if read from {@code file}.
     *
     * @throws ManifestException on the first problem found, in file order
     */
    public static Manifest parse(Path file, String text) throws ManifestException {
        TomlTable root;
        try {
            root = Toml.parse(text);
        } catch (TomlException e) {
            throw new ManifestException(file, e.line(), e.key(), e.detail());
        }
        return new ManifestParser(file).manifest(root);
    }

    private static String decode(Path file, byte[] bytes) throws ManifestException {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = d.decode(in, out, true);
        if (r.isError()) {
            int line = 1;
            for (int i = 0; i < in.position(); i++) {
                line += bytes[i] == '\n' ? 1 : 0;
            }
            throw new ManifestException(file, line, "", "the file is not valid UTF-8 (byte offset " + in.position() + ")");
        }
        try {
            d.flush(out);
        } catch (RuntimeException e) {
            throw new ManifestException(file, 0, "", "the file is not valid UTF-8");
        }
        return out.flip().toString();
    }

    // ---- the schema -----------------------------------------------------------------------------------------

    private Manifest manifest(TomlTable rootTable) throws ManifestException {
        Section root = new Section(file, "", rootTable, ROOT_KEYS);
        Entry nameEntry = root.string("name").orElseThrow(() ->
                new ManifestException(file, 0, "name", "missing: add a line `name = \"my-app\"` at the top"));
        String name = check(root, nameEntry, Checks.name(Section.text(nameEntry)));
        String entry = root.string("entry").map(e -> Section.text(e)).orElse(Manifest.DEFAULT_ENTRY);
        if (root.entry("entry").isPresent()) {
            check(root, root.entry("entry").get(), Checks.entry(entry));
        }
        String python = DEFAULT_PYTHON;
        Optional<Entry> py = root.string("python");
        if (py.isPresent()) {
            python = check(root, py.get(), Checks.python(Section.text(py.get())));
        }

        long grant = 0;
        NetScope net = NetScope.none();
        Map<String, Preopen> preopens = Map.of();
        List<String> programs = List.of();
        Optional<Section> caps = root.section("caps", CAPS_KEYS);
        if (caps.isPresent()) {
            grant = capMask(caps.get(), "grant");
            net = net(caps.get(), grant);
            preopens = preopens(caps.get(), grant);
            programs = programs(caps.get());
        }
        Limits limits = limits(root.section("limits", LIMITS_KEYS));
        Optional<Section> restartSection = root.section("restart", RESTART_KEYS);
        RestartPolicy restart = restart(restartSection);
        boolean retriesGiven = restartSection.flatMap(s -> s.entry("max_retries")).isPresent();
        List<TaskSpec> tasks = tasks(root, grant, restart, retriesGiven);
        Sandbox sandbox = sandbox(root.section("sandbox", SANDBOX_KEYS));
        return new Manifest(file, name, entry, python, grant, net, preopens, limits, restart, tasks, sandbox,
                programs);
    }

    /** Returns the entry's string when {@code problem} is null, else throws it at the entry. */
    private static String check(Section s, Entry e, String problem) throws ManifestException {
        if (problem != null) {
            throw s.error(e, problem);
        }
        return Section.text(e);
    }

    private long capMask(Section s, String key) throws ManifestException {
        long mask = 0;
        for (Section.Item item : s.strings(key)) {
            Cap cap = Cap.byName(item.value());
            if (cap == null) {
                List<String> names = Arrays.stream(Cap.values()).map(Cap::name).toList();
                String hint = Suggest.closest(item.value(), names);
                throw s.error(key, item.line(), "unknown capability \"" + item.value() + "\""
                        + (hint != null ? " (did you mean \"" + hint + "\"?)" : "")
                        + "; capabilities are " + String.join(", ", names));
            }
            mask |= cap.bit();
        }
        return mask;
    }

    private NetScope net(Section caps, long grant) throws ManifestException {
        Optional<Section> net = caps.section("net", NET_KEYS);
        if (net.isEmpty()) {
            return NetScope.none();
        }
        requireGranted(caps, "net", Cap.NET, grant);
        return new NetScope(patterns(net.get(), "connect", false), patterns(net.get(), "bind", true));
    }

    private static List<String> patterns(Section s, String key, boolean bind) throws ManifestException {
        List<String> out = new ArrayList<>();
        for (Section.Item item : s.strings(key)) {
            String problem = Checks.hostPort(item.value(), bind);
            if (problem != null) {
                throw s.error(key, item.line(), problem);
            }
            out.add(item.value());
        }
        return out;
    }

    private Map<String, Preopen> preopens(Section caps, long grant) throws ManifestException {
        Optional<Section> io = caps.section("io", null);
        if (io.isEmpty()) {
            return Map.of();
        }
        requireGranted(caps, "io", Cap.IO, grant);
        Map<String, Preopen> out = new LinkedHashMap<>();
        for (Entry e : io.get().table().entries().values()) {
            String problem = Checks.preopenName(e.key());
            if (problem != null) {
                throw io.get().error(e, problem);
            }
            Section p = io.get().section(e.key(), PREOPEN_KEYS).orElseThrow();
            Entry path = p.string("path").orElseThrow(() -> p.error("path", e.line(),
                    "missing: write " + e.key() + " = { path = \"" + e.key() + "\", mode = \"ro\" }"));
            check(p, path, Checks.relativePath(Section.text(path)));
            check(p, path, Checks.preopenPath(Section.text(path)));
            boolean writable = false;
            Optional<Entry> mode = p.string("mode");
            if (mode.isPresent()) {
                String m = Section.text(mode.get());
                if (!m.equals("ro") && !m.equals("rw")) {
                    throw p.error(mode.get(), "invalid mode \"" + m + "\": use \"ro\" (read-only) or \"rw\" (read-write)");
                }
                writable = m.equals("rw");
            }
            out.put(e.key(), new Preopen(e.key(), Section.text(path), writable));
        }
        return out;
    }

    /** {@code [caps] subprocess}: absolute paths or plain names (looked up on the kernel's PATH at start). */
    private static List<String> programs(Section caps) throws ManifestException {
        List<String> out = new ArrayList<>();
        for (Section.Item item : caps.strings("subprocess")) {
            String v = item.value();
            String problem = null;
            if (v.isEmpty()) {
                problem = "an empty program name";
            } else if (v.startsWith("/")) {
                if (!Path.of(v).normalize().toString().equals(v) || v.contains("/../") || v.endsWith("/..")
                        || v.chars().anyMatch(c -> c < 0x20)) {
                    problem = "\"" + v + "\": give a normalized absolute path (no \"..\", \".\", \"//\" or "
                            + "control characters)";
                }
            } else if (!v.matches("[A-Za-z0-9._+-]+") || v.equals(".") || v.equals("..")) {
                problem = "\"" + v + "\": give an absolute path (\"/usr/bin/git\") or a program name found on "
                        + "PATH (\"git\"); a relative path is not allowed";
            }
            if (problem != null) {
                throw caps.error("subprocess", item.line(), problem);
            }
            if (!out.contains(v)) {
                out.add(v);
            }
        }
        return out;
    }

    private static void requireGranted(Section caps, String key, Cap cap, long grant) throws ManifestException {
        if ((grant & cap.bit()) == 0) {
            int line = caps.entry(key).orElseThrow().line();
            throw caps.error(key, line, "scopes for " + cap.name() + " are given but " + cap.name()
                    + " is not granted: add \"" + cap.name() + "\" to grant in [caps]");
        }
    }

    private static Limits limits(Optional<Section> section) throws ManifestException {
        Limits d = Limits.defaults();
        if (section.isEmpty()) {
            return d;
        }
        Section s = section.get();
        return new Limits(
                (int) s.integer("tasks", d.tasks(), 1, 4096),
                (int) s.integer("handles", d.handles(), 16, 1 << 20),
                s.integer("channel_bytes", d.channelBytes(), io.ukernel.abi.Abi.MAX_MSG_BYTES, 1L << 30),
                s.integer("socket_bytes", d.socketBytes(), 4096, 1L << 30),
                // At least 128 KiB, so that one message of the largest size (64 KiB and overhead) always fits.
                s.integer("queued_bytes", d.queuedBytes(), 128L << 10, 1L << 32),
                s.integer("net_bytes", d.netBytes(), 64L << 10, 1L << 36),
                // At least 1 MiB: HOME and the temporary directory share it.
                s.integer("tmp_bytes", d.tmpBytes(), 1L << 20, 1L << 36));
    }

    private static Sandbox sandbox(Optional<Section> section) throws ManifestException {
        Sandbox d = Sandbox.defaults();
        if (section.isEmpty()) {
            return d;
        }
        Section s = section.get();
        Sandbox.Mode mode = d.mode();
        Optional<Entry> m = s.string("mode");
        if (m.isPresent()) {
            mode = word(s, m.get(), Sandbox.Mode.values(), Sandbox.Mode::text,
                    "\"strict\" (Landlock + seccomp, the default) or \"off\" (unconfined workers)");
        }
        Sandbox.Namespaces ns = d.namespaces();
        Optional<Entry> n = s.string("namespaces");
        if (n.isPresent()) {
            ns = word(s, n.get(), Sandbox.Namespaces.values(), Sandbox.Namespaces::text,
                    "\"auto\" (where the host allows, the default), \"on\" (required) or \"off\"");
        }
        return new Sandbox(mode, ns);
    }

    private static <E> E word(Section s, Entry e, E[] values, java.util.function.Function<E, String> text,
            String expected) throws ManifestException {
        String w = Section.text(e);
        for (E v : values) {
            if (text.apply(v).equals(w)) {
                return v;
            }
        }
        String hint = Suggest.closest(w, Arrays.stream(values).map(text).toList());
        throw s.error(e, "invalid value \"" + w + "\"" + (hint != null ? " (did you mean \"" + hint + "\"?)" : "")
                + ": use " + expected);
    }

    private static RestartPolicy restart(Optional<Section> section) throws ManifestException {
        RestartPolicy d = RestartPolicy.never();
        if (section.isEmpty()) {
            return d;
        }
        Section s = section.get();
        RestartPolicy.Mode mode = d.mode();
        Optional<Entry> policy = s.string("policy");
        if (policy.isPresent()) {
            mode = mode(s, policy.get());
        }
        long retries = s.integer("max_retries", mode == RestartPolicy.Mode.NO ? d.maxRetries() : DEFAULT_MAX_RETRIES, 0, 1000);
        long backoff = s.integer("backoff_ms", d.backoffMs(), 0, HOUR_MS);
        long backoffMax = s.integer("backoff_max_ms", Math.max(backoff, d.backoffMaxMs()), 0, HOUR_MS);
        if (backoffMax < backoff) {
            throw s.error("backoff_max_ms", s.entry("backoff_max_ms").orElseThrow().line(),
                    backoffMax + " is below backoff_ms (" + backoff + "): the maximum must be at least the first delay");
        }
        return new RestartPolicy(mode, (int) retries, backoff, backoffMax);
    }

    private static RestartPolicy.Mode mode(Section s, Entry e) throws ManifestException {
        String word = Section.text(e);
        for (RestartPolicy.Mode m : RestartPolicy.Mode.values()) {
            if (m.text().equals(word)) {
                return m;
            }
        }
        List<String> words = Arrays.stream(RestartPolicy.Mode.values()).map(RestartPolicy.Mode::text).toList();
        String hint = Suggest.closest(word, words);
        throw s.error(e, "invalid restart policy \"" + word + "\""
                + (hint != null ? " (did you mean \"" + hint + "\"?)" : "") + "; use one of " + String.join(", ", words));
    }

    private List<TaskSpec> tasks(Section root, long grant, RestartPolicy restart, boolean retriesGiven) throws ManifestException {
        List<TaskSpec> out = new ArrayList<>();
        Map<String, Integer> seen = new HashMap<>();
        for (Section t : root.sections("task", TASK_KEYS)) {
            Entry nameEntry = t.string("name").orElseThrow(() -> t.error("name", t.line(),
                    "missing: every [[task]] needs a name, e.g. name = \"worker\""));
            String name = check(t, nameEntry, Checks.name(Section.text(nameEntry)));
            if (name.equals("main")) {
                throw t.error(nameEntry, "\"main\" is the app's own task: choose another name");
            }
            Integer first = seen.putIfAbsent(name, nameEntry.line());
            if (first != null) {
                throw t.error(nameEntry, "duplicate task name \"" + name + "\" (first used on line " + first + ")");
            }
            Entry entryEntry = t.string("entry").orElseThrow(() -> t.error("entry", t.line(),
                    "missing: every [[task]] needs an entry, e.g. entry = \"src/" + name.replace('-', '_') + ".py\""));
            String entry = check(t, entryEntry, Checks.entry(Section.text(entryEntry)));
            long caps = grant;
            if (t.entry("caps").isPresent()) {
                caps = capMask(t, "caps");
                long extra = caps & ~grant;
                if (extra != 0) {
                    throw t.error(t.entry("caps").get(), Cap.format(extra) + " not in [caps] grant (granted: "
                            + Cap.format(grant) + "): add it to grant or remove it here");
                }
            }
            boolean atBoot = false;
            Optional<Entry> start = t.string("start");
            if (start.isPresent()) {
                String word = Section.text(start.get()).toLowerCase(Locale.ROOT);
                if (!word.equals("boot") && !word.equals("spawn")) {
                    throw t.error(start.get(), "invalid start \"" + Section.text(start.get())
                            + "\": use \"boot\" (started with the app) or \"spawn\" (started by task_spawn)");
                }
                atBoot = word.equals("boot");
            }
            RestartPolicy.Mode mode = RestartPolicy.Mode.NO;
            Optional<Entry> r = t.string("restart");
            if (r.isPresent()) {
                mode = mode(t, r.get());
            }
            int retries = retriesGiven || restart.mode() != RestartPolicy.Mode.NO ? restart.maxRetries()
                    : mode == RestartPolicy.Mode.NO ? 0 : DEFAULT_MAX_RETRIES;
            out.add(new TaskSpec(name, entry, caps, atBoot,
                    new RestartPolicy(mode, retries, restart.backoffMs(), restart.backoffMaxMs())));
        }
        return out;
    }
}
