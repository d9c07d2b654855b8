package io.ukernel.cli;

import io.ukernel.abi.Abi;
import io.ukernel.kernel.io.RawFd;
import io.ukernel.platform.process.LineSplitter;
import io.ukernel.platform.process.ProcessPlatform;
import io.ukernel.platform.spi.Worker;
import io.ukernel.platform.spi.WorkerListener;
import io.ukernel.platform.spi.WorkerSpec;
import io.ukernel.app.json.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The resident host's warm templates (docs/host.md, "Warm templates"): per app and task spec, one worker process
 * that is confined and has imported the app's entry module (python/ukernel/_template.py), from which workers are
 * forked instead of started. Keyed by the worker's command, bundle (its directory and the bundle's sha256) and
 * environment less the per-worker variables (token, worker id, initial handles): a changed app, policy or
 * environment gets a template of its own, and an app rebuilt on disk retires its old ones.
 *
 * <p>Templates are started from one long-lived thread of this class ({@code PR_SET_PDEATHSIG} ties a worker to the
 * thread that started it; a kernel's reactor thread ends with its instance, a template outlives instances). The
 * first worker of a spec waits for its template to be ready; a template that cannot be made, or has died, leaves
 * the start to the cold path with one line saying why.
 */
final class Templates implements ProcessPlatform.WarmStarts, AutoCloseable {
    /** Bounds a hang only (a template whose import never ends): the cold path takes over after it. */
    static final long READY_TIMEOUT_MS = 120_000;
    /** Variables that differ from one worker to the next: in each fork order, never in a template's key. */
    static final List<String> PER_WORKER = List.of(Abi.ENV_TOKEN, ProcessPlatform.ENV_WORKER_ID, Abi.ENV_HANDLES);
    /** Variables of the kernel instance a worker belongs to: not in a template's key (it talks to no kernel). */
    static final List<String> PER_KERNEL = List.of(Abi.ENV_ENDPOINT);

    private record Key(List<String> command, Path bundle, String sha, Map<String, String> env) {}

    private final Path dir;
    private final ExecutorService starter = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "ukernel-templates");
        t.setDaemon(true);
        return t;
    });
    /**
     * By key: the template, or its making under way (a first start makes it outside any lock shared between apps,
     * so one app's import never delays another's starts; starts of the same spec wait for it).
     */
    private final Map<Key, CompletableFuture<Template>> templates = new ConcurrentHashMap<>();
    private final AtomicInteger made = new AtomicInteger();
    private final AtomicInteger forks = new AtomicInteger();
    private volatile boolean closed;

    /** Templates whose control sockets live in {@code dir} (made 0700: the host's own directory). */
    Templates(Path dir) throws IOException {
        this.dir = dir;
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    }

    /** Templates made and workers forked so far (for the host's /host answer and the tests). */
    int made() {
        return made.get();
    }

    int forks() {
        return forks.get();
    }

    /** The live templates' pids (the process the host started, and the one that forks: PID 1 of its namespace). */
    List<long[]> pids() {
        List<long[]> out = new ArrayList<>();
        for (Template t : ready(templates.values())) {
            if (t.usable()) {
                out.add(new long[] {t.process.pid(), t.forker});
            }
        }
        return out;
    }

    @Override
    public Worker start(WorkerSpec spec, List<String> command, Map<String, String> env, WorkerListener listener) {
        if (closed || !spec.programs().isEmpty()) {
            // a task that runs programs ([caps] subprocess) needs the filter's process variant, which a
            // template's forks never get (_template.py refuses such an app): it starts cold, without a try
            return null;
        }
        String sha;
        try {
            sha = Files.readString(spec.bundleDir().resolve(".bundle.sha256"), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            return null; // not an extracted bundle of the host's: nothing to key a template on
        }
        Map<String, String> shared = new TreeMap<>(env);
        Map<String, String> own = new TreeMap<>();
        for (String k : PER_WORKER) {
            String v = shared.remove(k);
            if (v != null && !k.equals(Abi.ENV_TOKEN)) {
                own.put(k, v);
            }
        }
        PER_KERNEL.forEach(shared::remove);
        Key key = new Key(List.copyOf(command), spec.bundleDir(), sha, Map.copyOf(shared));
        CompletableFuture<Template> pending;
        CompletableFuture<Template> mine = null;
        synchronized (this) {
            pending = templates.get(key);
            Template dead = pending != null && pending.isDone() ? pending.getNow(null) : null;
            if (dead != null && !dead.usable()) {
                templates.remove(key, pending);
                dead.close();
                listener.output("ukernel: warm start: the template of task " + spec.taskName() + " ended ("
                        + dead.why() + "); making a new one", true);
                pending = null;
            }
            if (pending == null) {
                retireOthers(key);
                pending = mine = new CompletableFuture<>();
                templates.put(key, mine);
            }
        }
        if (mine != null) {
            try {
                mine.complete(make(key, env));
            } catch (IOException | RuntimeException e) {
                templates.remove(key, mine);
                mine.completeExceptionally(e);
            }
        }
        Template t;
        try {
            t = pending.join();
        } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
            Throwable why = e.getCause() != null ? e.getCause() : e;
            listener.output("ukernel: warm start unavailable for task " + spec.taskName() + ": "
                    + why.getMessage() + "; starting it cold", true);
            return null;
        }
        try {
            Worker w = t.fork(spec, own, listener);
            forks.incrementAndGet();
            return w;
        } catch (IOException | RuntimeException e) {
            templates.remove(key, pending);
            t.close();
            listener.output("ukernel: warm start failed for task " + spec.taskName() + ": " + e.getMessage()
                    + "; starting it cold", true);
            return null;
        }
    }

    /** An app rebuilt on disk (same bundle directory, another sha): its old templates are of no further use. */
    private void retireOthers(Key key) {
        templates.entrySet().removeIf(e -> {
            if (e.getKey().bundle().equals(key.bundle()) && !e.getKey().sha().equals(key.sha())) {
                e.getValue().thenAccept(Template::close); // one still being made ends once it is made
                return true;
            }
            return false;
        });
    }

    /** The templates made (not those being made, nor those that could not be). */
    private static List<Template> ready(java.util.Collection<CompletableFuture<Template>> futures) {
        List<Template> out = new ArrayList<>();
        for (CompletableFuture<Template> f : futures) {
            if (f.isDone() && !f.isCompletedExceptionally()) {
                out.add(f.join());
            }
        }
        return out;
    }

    private Template make(Key key, Map<String, String> env) throws IOException {
        byte[] secretBytes = new byte[16];
        new SecureRandom().nextBytes(secretBytes);
        String secret = HexFormat.of().formatHex(secretBytes);
        Path sock = dir.resolve("t" + ProcessHandle.current().pid() + "-" + made.incrementAndGet() + ".sock");
        Files.deleteIfExists(sock);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        Process process = null;
        try {
            server.bind(UnixDomainSocketAddress.of(sock));
            ProcessBuilder pb = new ProcessBuilder(key.command()).directory(key.bundle().toFile());
            Map<String, String> e = pb.environment();
            e.clear();
            e.putAll(env);
            e.remove(Abi.ENV_TOKEN);
            e.remove(Abi.ENV_ENDPOINT);
            e.remove(Abi.ENV_HANDLES);
            e.put("UKERNEL_TEMPLATE_SOCKET", sock.toString());
            e.put("UKERNEL_TEMPLATE_SECRET", secret);
            process = starter.submit(pb::start).get();
            process.getOutputStream().close();
            Process p = process;
            StringBuilder said = new StringBuilder();
            for (InputStream in : List.of(p.getInputStream(), p.getErrorStream())) {
                Thread.ofVirtual().name("template-output").start(() -> {
                    try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                        for (String line; (line = r.readLine()) != null; ) {
                            synchronized (said) {
                                if (said.length() < 4096) {
                                    said.append(line).append('\n');
                                }
                            }
                            System.err.println("ukernel template " + key.bundle() + ": " + line);
                        }
                    } catch (IOException ignored) {
                        // the template ended
                    }
                });
            }
            CompletableFuture<SocketChannel> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.accept();
                } catch (IOException ex) {
                    throw new java.io.UncheckedIOException(ex);
                }
            }, r -> Thread.ofVirtual().start(r));
            p.onExit().thenRun(() -> {
                try {
                    server.close(); // a template that died before connecting: accept() fails at once
                } catch (IOException ignored) {
                    // closed
                }
            });
            SocketChannel ctl;
            try {
                ctl = accepted.get(READY_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException ex) {
                throw new IOException("the template did not connect" + ended(p, said));
            }
            Template t = new Template(p, ctl, key);
            String hello = t.readLine(p, said);
            if (!("template " + secret).equals(hello)) {
                t.close();
                throw new IOException("a process other than the template connected, or it said " + hello);
            }
            String ready = t.readLine(p, said);
            if (!"ready".equals(ready)) {
                t.close();
                throw new IOException(ready != null && ready.startsWith("failed ") ? ready.substring(7)
                        : "the template ended before it was ready" + ended(p, said));
            }
            t.ready();
            return t;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException("cannot start the template: " + e.getCause().getMessage(), e.getCause());
        } catch (IOException | RuntimeException e) {
            if (process != null) {
                process.destroyForcibly();
            }
            throw e;
        } finally {
            server.close();
            Files.deleteIfExists(sock);
        }
    }

    private static String ended(Process p, StringBuilder said) {
        String out;
        synchronized (said) {
            out = said.toString().strip();
        }
        return (p.isAlive() ? "" : " (exit status " + p.exitValue() + ")") + (out.isEmpty() ? "" : ": " + out);
    }

    /** Ends every template (and so every worker forked from one) and waits for them, so none outlives the host. */
    @Override
    public void close() {
        closed = true;
        List<Template> all;
        synchronized (this) {
            all = ready(templates.values());
            templates.values().forEach(f -> f.thenAccept(Template::close)); // one being made: closed once made
            templates.clear();
        }
        all.forEach(Template::close); // each exits on EOF: PID 1 of its namespace, it takes its workers along
        for (Template t : all) {
            try {
                if (!t.process.waitFor(5, TimeUnit.SECONDS)) {
                    t.process.destroyForcibly(); // P; C has P's death as its SIGKILL
                    t.process.waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                t.process.destroyForcibly();
            }
        }
        starter.shutdown();
    }

    /** One template: its process, control connection and the workers forked from it. */
    private static final class Template {
        final Process process;
        final SocketChannel ctl;
        final Key key;
        final BufferedReader in;
        /** The template's pid in the host's namespace (PID 1 of its own), found once it is ready. */
        volatile long forker = -1;
        private final LinkedBlockingQueue<Object[]> replies = new LinkedBlockingQueue<>();
        private final Map<Integer, CompletableFuture<Integer>> exits = new HashMap<>();
        private volatile String why = "closed";
        private volatile boolean closed;

        Template(Process process, SocketChannel ctl, Key key) {
            this.process = process;
            this.ctl = ctl;
            this.key = key;
            this.in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ctl), StandardCharsets.UTF_8));
        }

        String readLine(Process p, StringBuilder said) throws IOException {
            String line = in.readLine();
            if (line == null) {
                throw new IOException("the template closed its connection" + ended(p, said));
            }
            return line;
        }

        /** Learns the forker's pid and starts reading the template's answers. */
        void ready() throws IOException {
            // with namespaces the process started (P) forked the template proper (C), PID 1 of the namespace
            long p = process.pid();
            forker = childWithNsPid(p, 1);
            if (forker < 0) {
                throw new IOException("the template's PID 1 (a child of pid " + p + ") was not found");
            }
            Thread.ofVirtual().name("template-" + p).start(this::readAnswers);
        }

        boolean usable() {
            return !closed && process.isAlive();
        }

        String why() {
            return process.isAlive() ? why : "exit status " + process.exitValue();
        }

        private void readAnswers() {
            try {
                for (String line; (line = in.readLine()) != null; ) {
                    String[] w = line.split(" ", 3);
                    switch (w[0]) {
                        case "forked" -> {
                            int pid = Integer.parseInt(w[1]);
                            CompletableFuture<Integer> exit = new CompletableFuture<>();
                            synchronized (exits) {
                                exits.put(pid, exit);
                            }
                            replies.add(new Object[] {pid, exit});
                        }
                        case "error" -> replies.add(new Object[] {line.substring(6)});
                        case "exit" -> {
                            CompletableFuture<Integer> f;
                            synchronized (exits) {
                                f = exits.remove(Integer.parseInt(w[1]));
                            }
                            if (f != null) {
                                f.complete(Integer.parseInt(w[2]));
                            }
                        }
                        default -> { }
                    }
                }
            } catch (IOException | RuntimeException e) {
                // the connection ended
            } finally {
                why = "its connection ended";
                close();
                replies.add(new Object[] {"the template ended"});
                // the namespace ended with the template: every forked worker is gone (status of a SIGKILL)
                synchronized (exits) {
                    exits.values().forEach(f -> f.complete(137));
                    exits.clear();
                }
            }
        }

        /** Forks a worker for {@code spec}: its own kernel connection, stdout and stderr. */
        synchronized Worker fork(WorkerSpec spec, Map<String, String> own, WorkerListener listener)
                throws IOException {
            if (!usable()) {
                throw new IOException("the template ended (" + why() + ")");
            }
            SocketChannel kernel = SocketChannel.open(UnixDomainSocketAddress.of(spec.endpoint()));
            Pipe out = Pipe.open();
            Pipe err = Pipe.open();
            try {
                byte[] order = ("fork " + spec.token() + " " + Json.write(own) + "\n").getBytes(StandardCharsets.UTF_8);
                ByteBuffer buf = ByteBuffer.wrap(order);
                int[] fds = {RawFd.of(kernel), RawFd.of(out.sink()), RawFd.of(err.sink())};
                long r = RawFd.sendWithFds(RawFd.of(ctl), buf, fds, false);
                while (r > 0 && buf.hasRemaining()) {
                    r = ctl.write(buf);
                }
                if (r < 0) {
                    throw new IOException("cannot send the fork order: errno " + -r);
                }
            } catch (IOException | RuntimeException e) {
                out.source().close();
                err.source().close();
                throw e;
            } finally {
                kernel.close();
                out.sink().close();
                err.sink().close();
            }
            Object[] reply;
            try {
                reply = replies.poll(READY_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                reply = null;
            }
            if (reply == null || reply.length != 2) {
                out.source().close();
                err.source().close();
                throw new IOException(reply == null ? "the template did not answer" : (String) reply[0]);
            }
            int inner = (Integer) reply[0];
            @SuppressWarnings("unchecked")
            CompletableFuture<Integer> exit = (CompletableFuture<Integer>) reply[1];
            long hostPid = hostPid(inner);
            CountDownLatch drained = new CountDownLatch(2);
            pump(out.source(), false, listener, drained, spec);
            pump(err.source(), true, listener, drained, spec);
            exit.thenAccept(status -> {
                try {
                    drained.await(2, TimeUnit.SECONDS); // a lost pipe must not hide the exit forever
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                listener.exited(status);
            });
            return new Forked(hostPid, exit);
        }

        /** The host pid of the template's child {@code inner} (its pid in the template's namespace). */
        private long hostPid(int inner) throws IOException {
            return childWithNsPid(forker, inner);
        }

        /** The child of {@code parent} whose pid in its own (innermost) pid namespace is {@code inner}, or -1. */
        private static long childWithNsPid(long parent, int inner) throws IOException {
            long f = parent;
            String kids = Files.readString(Path.of("/proc", Long.toString(f), "task", Long.toString(f), "children"));
            for (String k : kids.trim().split("\\s+")) {
                if (k.isEmpty()) {
                    continue;
                }
                try {
                    for (String line : Files.readAllLines(Path.of("/proc", k, "status"))) {
                        if (line.startsWith("NSpid:")) {
                            String[] ns = line.substring(6).trim().split("\\s+");
                            if (ns[ns.length - 1].equals(Integer.toString(inner))) {
                                return Long.parseLong(k);
                            }
                        }
                    }
                } catch (IOException ended) {
                    // that child has ended meanwhile
                }
            }
            return -1; // ended already (its exit is reported all the same)
        }

        void close() {
            closed = true;
            try {
                ctl.close(); // the template exits on EOF; as PID 1 of its namespace it takes its workers along
            } catch (IOException ignored) {
                // closed
            }
        }
    }

    private static void pump(Pipe.SourceChannel source, boolean stderr, WorkerListener listener,
            CountDownLatch drained, WorkerSpec spec) {
        Thread.ofVirtual().name("task-" + spec.taskId() + (stderr ? "-stderr" : "-stdout")).start(() -> {
            try (InputStream in = Channels.newInputStream(source)) {
                new LineSplitter(LineSplitter.MAX_LINE_BYTES, line -> listener.output(line, stderr)).pump(in);
            } catch (IOException e) {
                listener.output("ukernel: lost the worker's " + (stderr ? "stderr" : "stdout") + ": " + e, true);
            } finally {
                drained.countDown();
            }
        });
    }

    /** A worker forked from a template: signalled by its host pid, ended when the template reports its exit. */
    private record Forked(long pid, CompletableFuture<Integer> exit) implements Worker {
        @Override
        public void terminate() {
            if (!exit.isDone() && pid > 0) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
            }
        }

        @Override
        public void kill() {
            if (!exit.isDone() && pid > 0) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
        }

        @Override
        public boolean alive() {
            return !exit.isDone();
        }
    }
}
