package io.ukernel.kernel.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.ArgType;
import io.ukernel.abi.Call;
import io.ukernel.abi.Cap;
import io.ukernel.abi.Decoded;
import io.ukernel.abi.Frame;
import io.ukernel.abi.FrameCodec;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.policy.Policy;
import io.ukernel.kernel.FakeClock;
import io.ukernel.kernel.KernelContext;
import io.ukernel.kernel.Reactor;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.TestTasks;
import io.ukernel.kernel.calls.CallTable;
import io.ukernel.kernel.calls.Dispatcher;
import io.ukernel.kernel.caps.CapabilitySet;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.LineFormat;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterProperty;
import net.jqwik.api.lifecycle.BeforeProperty;

/**
 * Fuzzes the decoder and the dispatcher together, with the real call table behind them: each try plays a random
 * script of frames — well-typed calls of every ABI call with hostile values (other tasks' and made-up handle
 * numbers, paths with {@code ..}, huge and negative numbers), frames mutated after encoding (bytes flipped,
 * truncated, extended) and plain noise — decoded the way a connection decodes them.
 *
 * <p>Properties: nothing a worker can send makes the decoder or the dispatcher throw; every reply answers the
 * request it is for (same seq, once, parked calls included); and nothing leaks: closing every number the task was
 * ever given brings its handle table back to empty. Bounded by the number of tries (a few seconds in CI).
 */
class DispatcherFuzzTest {
    private static final List<Call> CALLS = Arrays.stream(Call.values()).filter(c -> c != Call.HELLO).toList();
    /** Calls that hand out handles: the script calls them more often, and uses what they return. */
    private static final List<Call> CREATORS = List.of(Call.IPC_CHANNEL_CREATE, Call.NET_SOCKET, Call.NET_ACCEPT,
            Call.IO_OPEN, Call.TASK_SPAWN, Call.IPC_RECV);
    private static final String[] PATHS = {"a", "b/c", "..", "../x", "a/../../x", "/etc/passwd", "x\0y", "",
        "link", "a/", ".", "dir/../a"};
    private static final String[] HOSTS = {"127.0.0.1", "::1", "[::1]", "", "0.0.0.0", "localhost", "256.1.1.1",
        "\0", "a b"};

    private Path dir;
    private final List<Throwable> bugs = new ArrayList<>();
    /** One reactor for every try (it is never run: handlers only register with it). */
    private Reactor reactor;

    @BeforeProperty
    void makeDir() throws IOException {
        reactor = new Reactor(bugs::add);
        dir = Files.createTempDirectory("ukfuzz");
        Files.createDirectories(dir.resolve("d"));
        Files.writeString(dir.resolve("d/a"), "data");
        Files.createSymbolicLink(dir.resolve("d/link"), Path.of("/etc/passwd"));
    }

    /** What the tries reached, over all of them: proof the fuzzing goes past the first checks. */
    private final Map<String, Integer> reached = new java.util.TreeMap<>();

    @AfterProperty
    void checkCoverageAndRemoveDir() throws IOException {
        Files.writeString(Path.of("target/fuzz-reached.txt"), reached.toString().replace(", ", "\n"));
        for (String must : List.of("OK ipc_channel_create", "OK ipc_send", "OK ipc_recv", "OK net_socket",
                "OK net_bind", "OK io_open", "OK io_write", "OK task_spawn", "OK io_poll", "ERR_BADHANDLE ipc_send",
                "ERR_DENIED net_connect", "ERR_DENIED io_open", "ERR_INVAL", "parked", "malformed", "decoded")) {
            assertTrue(reached.keySet().stream().anyMatch(k -> k.startsWith(must)), "never reached " + must + ": "
                    + reached);
        }
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** One step of a script: a call to build from the seed, or raw bytes to decode. */
    record Step(int kind, long seed) {}

    @Provide
    Arbitrary<List<Step>> scripts() {
        return Arbitraries.integers().between(0, 10).flatMap(kind -> Arbitraries.longs().map(seed -> new Step(kind,
                seed))).list().ofMaxSize(60);
    }

    @Property(tries = 400)
    void anyScript_neverThrows_answersEverySeq_andLeaksNoHandle(@ForAll("scripts") List<Step> script)
            throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        FakeClock clock = new FakeClock();
        Console console = Console.open(clock, LineFormat.JSON, new PrintStream(out, true, StandardCharsets.UTF_8),
                null, true);
        TestTasks.Control control = new TestTasks.Control();
        control.declared.add(new Policy.TaskSpec("w", "src/w.py", Cap.ALL_MASK, false,
                Policy.RestartPolicy.never()));
        Policy base = TestTasks.policy(control.declared);
        Policy manifest = new Policy(base.name(), base.entry(), base.python(), base.caps(),
                new Policy.NetScope(List.of(), List.of("127.0.0.1:0")),
                Map.of("d", new Policy.Preopen("d", "d", true)), base.limits(), base.restart(), base.tasks());
        Dispatcher dispatcher = new Dispatcher(CallTable.v1(new KernelContext(console, clock, reactor, manifest,
                control, dir)), console);
        List<Frame.Reply> late = new ArrayList<>();
        Task task = TestTasks.task(1, "main", new CapabilitySet(Cap.ALL_MASK), late);
        Task other = TestTasks.task(2, "other", new CapabilitySet(Cap.ALL_MASK));
        Set<Long> given = new HashSet<>();
        List<Long> handles = new ArrayList<>();  // numbers handed out by calls that create handles
        Map<String, List<Long>> pools = new HashMap<>();  // the same, by the family that made them
        Map<Integer, Integer> parked = new HashMap<>();
        int[] seq = {0};

        java.util.function.Consumer<Frame.Request> serve = request -> {
            Frame.Reply reply = dispatcher.dispatch(task, request);
            Call c = Call.ofNumber(request.call());
            if (reply == null) {
                parked.merge(request.seq(), 1, Integer::sum);
                reached.merge("parked", 1, Integer::sum);
                return;
            }
            reached.merge(reply.status() + " " + (c == null ? "?" : c.abiName()), 1, Integer::sum);
            assertEquals(request.seq(), reply.seq(), "the reply answers its request");
            remember(reply, given);
            if (reply.status() == Status.OK && c != null && CREATORS.contains(c)) {
                List<Value> vs = reply.values();
                List<Long> pool = pools.computeIfAbsent(family(c), k -> new ArrayList<>());
                for (int i = 0; i < vs.size(); i++) {
                    if (vs.get(i) instanceof Value.I64 h && (i == 0 || c == Call.IPC_CHANNEL_CREATE)) {
                        handles.add(h.value());
                        pool.add(h.value());
                    } else if (vs.get(i) instanceof Value.I64s hs) {
                        Arrays.stream(hs.value()).forEach(handles::add);
                    }
                }
            }
        };
        serve.accept(new Frame.Request(++seq[0], Call.CAP_ACQUIRE, Value.of(Cap.ALL_MASK)));
        // A handle of another task, which this one must never be able to use.
        long foreign = other.handles().install(new io.ukernel.kernel.handle.KernelObject() {
            @Override
            public String kind() {
                return "test";
            }

            @Override
            public void close() {}
        }).orElseThrow();

        for (Step step : script) {
            Random r = new Random(step.seed());
            Frame.Request call = randomCall(r, ++seq[0], handles, pools, foreign);
            switch (step.kind()) {
                case 0, 1, 2, 3, 4, 5 -> serve.accept(call);
                case 6, 7, 8 -> decodeAll(mutate(FrameCodec.encode(call), r), serve);
                case 9 -> decodeAll(noise(r), serve);
                default -> combo(r, serve, seq, handles, pools);
            }
            for (Frame.Reply reply : List.copyOf(late)) {  // parked calls answered since
                assertTrue(parked.merge(reply.seq(), -1, Integer::sum) >= 0, "a late reply answers a parked call");
                remember(reply, given);
            }
            late.clear();
            assertTrue(task.handles().size() <= task.handles().limit());
        }
        assertTrue(other.handles().get(foreign).isPresent(), "another task's handle survived");

        TestTasks.cancelParked(task);
        for (long h : given) {
            dispatcher.dispatch(task, new Frame.Request(++seq[0], Call.HANDLE_CLOSE, Value.of(h)));
        }
        assertEquals(0, task.handles().size(), "handles leaked: " + task.handles().size() + " still open");
        for (Task child : control.spawned) {
            TestTasks.exit(child, 0);
        }
        TestTasks.exit(task, 0);
        assertTrue(bugs.isEmpty(), "kernel bugs: " + bugs);
    }

    private static void remember(Frame.Reply reply, Set<Long> given) {
        if (reply.status() != Status.OK) {
            assertTrue(reply.values().isEmpty(), "an error reply carries no values");
            return;
        }
        for (Value v : reply.values()) {
            if (v instanceof Value.I64 i && i.value() > 0) {
                given.add(i.value());
            } else if (v instanceof Value.I64s s) {
                Arrays.stream(s.value()).filter(x -> x > 0).forEach(given::add);
            }
        }
    }

    /** Decodes {@code bytes} as a connection does and serves each whole frame; never throws. */
    private void decodeAll(byte[] bytes, java.util.function.Consumer<Frame.Request> serve) {
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
            Decoded<Frame.Request> d = FrameCodec.decodeRequest(in);
            assertNotNull(d);
            switch (d) {
                case Decoded.Whole<Frame.Request> w -> {
                    reached.merge("decoded", 1, Integer::sum);
                    in.position(in.position() + w.consumed());
                    serve.accept(w.frame());
                }
                case Decoded.NeedMore<Frame.Request> n -> {
                    return;
                }
                case Decoded.Malformed<Frame.Request> m -> {
                    reached.merge("malformed", 1, Integer::sum);
                    if (!m.recoverable()) {
                        return;  // the connection closes here
                    }
                    assertTrue(m.consumed() > 0, "a recoverable frame is skipped");
                    in.position(in.position() + m.consumed());
                }
            }
        }
    }

    private static byte[] mutate(byte[] frame, Random r) {
        byte[] b = frame.clone();
        switch (r.nextInt(4)) {
            case 0 -> {
                for (int i = 0, n = 1 + r.nextInt(4); i < n; i++) {
                    b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
                }
            }
            case 1 -> b = Arrays.copyOf(b, r.nextInt(b.length));
            case 2 -> {
                b = Arrays.copyOf(b, b.length + 1 + r.nextInt(32));
                for (int i = frame.length; i < b.length; i++) {
                    b[i] = (byte) r.nextInt();
                }
            }
            default -> {
                int at = 4 + r.nextInt(Math.max(1, b.length - 4));
                b[Math.min(at, b.length - 1)] = (byte) r.nextInt();  // tags, counts, lengths
            }
        }
        return b;
    }

    private static byte[] noise(Random r) {
        byte[] b = new byte[r.nextInt(64)];
        r.nextBytes(b);
        if (b.length >= 4 && r.nextBoolean()) {  // a plausible small length, so the decoder goes further
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 8 + r.nextInt(Math.max(1, b.length - 4)));
        }
        return b;
    }

    /**
     * A short sequence that reaches deeper states than independent random calls would: a handle-carrying message
     * through a fresh channel, a socket bound and listening, a file created, written, read, sought and stat'ed. The
     * arguments are still partly random.
     */
    private static void combo(Random r, java.util.function.Consumer<Frame.Request> serve, int[] seq, List<Long> handles,
            Map<String, List<Long>> pools) {
        int before = handles.size();
        switch (r.nextInt(5)) {
            case 3 -> {  // a spawn moving a handle
                long[] moved = handles.isEmpty() || r.nextBoolean() ? new long[0]
                        : new long[] {handles.get(r.nextInt(handles.size()))};
                serve.accept(new Frame.Request(++seq[0], Call.TASK_SPAWN, Value.of(r.nextInt(4) > 0 ? "w" : "nope"),
                        Value.of(r.nextInt(4) > 0 ? Cap.ALL_MASK : r.nextLong()), Value.of(moved)));
            }
            case 4 -> {  // a poll that parks, woken by a message (the late reply must answer it)
                serve.accept(new Frame.Request(++seq[0], Call.IPC_CHANNEL_CREATE));
                if (handles.size() == before + 2) {
                    long a = handles.get(before);
                    long b = handles.get(before + 1);
                    serve.accept(new Frame.Request(++seq[0], Call.IO_POLL,
                            Value.of(new long[] {b, 1 + r.nextInt(15)}), Value.of(1_000_000_000L)));
                    serve.accept(new Frame.Request(++seq[0], Call.IPC_SEND, Value.of(a), Value.of(new byte[1]),
                            Value.of(new long[0])));
                }
            }
            case 0 -> {
                serve.accept(new Frame.Request(++seq[0], Call.IPC_CHANNEL_CREATE));
                if (handles.size() == before + 2) {
                    long a = handles.get(before);
                    long b = handles.get(before + 1);
                    long[] moved = r.ints(r.nextInt(3), 0, handles.size()).mapToLong(handles::get).toArray();
                    serve.accept(new Frame.Request(++seq[0], Call.IPC_SEND, Value.of(a), Value.of(new byte[4]),
                            Value.of(moved)));
                    serve.accept(new Frame.Request(++seq[0], Call.IPC_RECV, Value.of(r.nextInt(5) > 0 ? b : a)));
                }
            }
            case 1 -> {
                serve.accept(new Frame.Request(++seq[0], Call.NET_SOCKET, Value.of(4), Value.of(1)));
                if (handles.size() == before + 1) {
                    long sock = handles.get(before);
                    serve.accept(new Frame.Request(++seq[0], Call.NET_BIND, Value.of(sock),
                            Value.of(r.nextInt(4) > 0 ? "127.0.0.1" : "0.0.0.0"), Value.of(r.nextInt(4) > 0 ? 0 : 80)));
                    serve.accept(new Frame.Request(++seq[0], Call.NET_LISTEN, Value.of(sock), Value.of(r.nextInt(8))));
                    serve.accept(new Frame.Request(++seq[0], Call.NET_ADDR, Value.of(sock), Value.of(r.nextInt(3))));
                    serve.accept(new Frame.Request(++seq[0], Call.NET_ACCEPT, Value.of(sock)));
                    serve.accept(new Frame.Request(++seq[0], Call.NET_SOCKET, Value.of(4), Value.of(1)));
                    if (handles.size() == before + 2) {  // no net.connect rule: denied
                        serve.accept(new Frame.Request(++seq[0], Call.NET_CONNECT, Value.of(handles.get(before + 1)),
                                Value.of("127.0.0.1"), Value.of(1 + r.nextInt(65535))));
                    }
                }
            }
            default -> {
                String path = new String[] {"a", "new", "b/c", "../x", "link"}[r.nextInt(5)];
                serve.accept(new Frame.Request(++seq[0], Call.IO_OPEN, Value.of("d"), Value.of(path),
                        Value.of(1 + r.nextInt(15))));
                if (handles.size() == before + 1) {
                    long f = handles.get(before);
                    serve.accept(new Frame.Request(++seq[0], Call.IO_WRITE, Value.of(f), Value.of(new byte[r.nextInt(9)])));
                    serve.accept(new Frame.Request(++seq[0], Call.IO_SEEK, Value.of(f), Value.of(r.nextInt(5) - 2),
                            Value.of(r.nextInt(4))));
                    serve.accept(new Frame.Request(++seq[0], Call.IO_READ, Value.of(f), Value.of(r.nextInt(100))));
                    serve.accept(new Frame.Request(++seq[0], Call.IO_STAT, Value.of(f)));
                }
            }
        }
    }

    private static String family(Call c) {
        return c.abiName().substring(0, c.abiName().indexOf('_'));
    }

    private static Frame.Request randomCall(Random r, int seq, List<Long> given, Map<String, List<Long>> pools,
            long foreign) {
        Call call = r.nextInt(4) == 0 ? CREATORS.get(r.nextInt(CREATORS.size())) : CALLS.get(r.nextInt(CALLS.size()));
        if (call == Call.CAP_DROP && r.nextInt(4) > 0) {
            call = Call.CAP_QUERY;  // dropping for good ends the rest of the script's reach: now and then only
        }
        List<ArgType> sig = call.args();
        if (r.nextInt(10) == 0) {  // a wrong signature now and then
            sig = List.of(ArgType.values()[r.nextInt(3)]);
        }
        Value[] values = new Value[sig.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = switch (sig.get(i)) {
                case I64 -> Value.of(number(r, pools.getOrDefault(family(call), List.of()).isEmpty() || r.nextInt(4) == 0
                        ? given : pools.get(family(call)), foreign, call, i));
                case BYTES -> Value.of(bytes(r, call, i));
                case I64S -> {
                    long[] a = new long[r.nextInt(4)];
                    for (int j = 0; j < a.length; j++) {
                        a[j] = number(r, given, foreign, call, -1);
                    }
                    yield Value.of(a);
                }
            };
        }
        return new Frame.Request(seq, call.number(), List.of(values));
    }

    private static long number(Random r, List<Long> given, long foreign, Call call, int index) {
        if (call == Call.IO_POLL && index == 1 && r.nextInt(3) > 0) {
            return r.nextBoolean() ? 0 : 1_000_000;  // immediate, or parked
        }
        if (call == Call.TASK_EXIT && r.nextBoolean()) {
            return r.nextInt(300) - 20;
        }
        if (call == Call.NET_SOCKET) {
            return index == 0 ? (r.nextBoolean() ? 4 : 6) : 1;  // AF_INET/AF_INET6, SOCK_STREAM, mostly
        }
        if ((call == Call.NET_BIND || call == Call.NET_CONNECT) && index == 2 && r.nextBoolean()) {
            return r.nextBoolean() ? 0 : 80;
        }
        if (call == Call.IO_OPEN && index == 2 && r.nextInt(4) > 0) {
            return 1 + r.nextInt(31);  // flag combinations
        }
        if ((index <= 0 || call == Call.TASK_SPAWN && index == 1) && !given.isEmpty() && r.nextInt(4) > 0) {
            if (call == Call.TASK_SPAWN && index == 1) {
                return Cap.ALL_MASK;
            }
            return given.get(r.nextInt(given.size()));
        }
        return switch (r.nextInt(9)) {
            case 0, 1, 2 -> given.isEmpty() ? 1 : given.get(r.nextInt(given.size()));
            case 3 -> foreign;
            case 4 -> r.nextInt(Integer.MAX_VALUE - 1) + 1;
            case 5 -> new long[] {0, -1, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 31, 1L << 32}[r.nextInt(6)];
            case 6 -> r.nextInt(64);
            case 7 -> r.nextInt(70_000);
            default -> r.nextLong();
        };
    }

    private static byte[] bytes(Random r, Call call, int index) {
        if (r.nextInt(5) > 0) {
            String s = switch (call) {
                case IO_OPEN -> index == 0 ? (r.nextInt(5) > 0 ? "d" : "e") : PATHS[r.nextInt(PATHS.length)];
                case NET_BIND, NET_CONNECT -> r.nextInt(3) > 0 ? "127.0.0.1" : HOSTS[r.nextInt(HOSTS.length)];
                case TASK_SPAWN -> new String[] {"w", "main", "nope", ""}[r.nextInt(4)];
                default -> null;
            };
            if (s != null) {
                return s.getBytes(StandardCharsets.UTF_8);
            }
        }
        byte[] b = new byte[r.nextInt(r.nextInt(20) == 0 ? 70_000 : 16)];
        r.nextBytes(b);
        return b;
    }
}
