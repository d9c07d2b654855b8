package io.ukernel.kernel.net;

import io.ukernel.abi.Call;
import io.ukernel.abi.Frame;
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
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.LineFormat;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A kernel core with its reactor running on its own thread: the real call table and dispatcher, each call served on
 * the reactor thread (as the transport does), parked {@code io_poll} replies collected per task. Every wait is
 * bounded. Close it to stop the reactor; it fails the test if the reactor reported a kernel bug.
 */
public final class LiveKernel implements AutoCloseable {
    /**
     * The longest any single wait in a test may take. It only bounds a hang (a wait ends as soon as its event
     * happens), so it is generous enough for a loaded machine.
     */
    public static final long WAIT_MS = 30_000;

    public final Reactor reactor;
    public final Dispatcher dispatcher;
    public final KernelContext ctx;
    private final ByteArrayOutputStream terminal = new ByteArrayOutputStream();
    private final List<Throwable> bugs = new CopyOnWriteArrayList<>();
    private final Map<Task, List<Frame.Reply>> late = new java.util.concurrent.ConcurrentHashMap<>();
    private final Thread thread;
    private int seq;

    /** A kernel whose app grants these scopes and this per-socket buffer bound. */
    public LiveKernel(List<String> connect, List<String> bind, long socketBytes) {
        Policy.Limits d = Policy.Limits.defaults();
        Policy manifest = new Policy("t", "src/main.py", "3.11",
                io.ukernel.abi.Cap.ALL_MASK, new Policy.NetScope(connect, bind), Map.of(),
                new Policy.Limits(d.tasks(), d.handles(), d.channelBytes(), socketBytes),
                Policy.RestartPolicy.never(), List.of());
        FakeClock clock = new FakeClock();
        try {
            Console console = Console.open(clock, LineFormat.TEXT,
                    new PrintStream(terminal, true, StandardCharsets.UTF_8), null, false);
            reactor = new Reactor(bugs::add);
            ctx = new KernelContext(console, clock, reactor, manifest, new TestTasks.Control());
            dispatcher = new Dispatcher(CallTable.v1(ctx), console);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        thread = Thread.ofPlatform().name("test-reactor").daemon().start(reactor::run);
    }

    /** A running task whose parked replies this kernel collects, with NET (and IPC) acquired. */
    public Task task(int id) {
        List<Frame.Reply> replies = new CopyOnWriteArrayList<>();
        Task t = TestTasks.task(id, "t" + id, new io.ukernel.kernel.caps.CapabilitySet(io.ukernel.abi.Cap.ALL_MASK),
                reply -> {
                    synchronized (replies) {
                        replies.add(reply);
                        replies.notifyAll();
                    }
                });
        late.put(t, replies);
        check(call(t, Call.CAP_ACQUIRE, Value.of(io.ukernel.abi.Cap.ALL_MASK)), Status.OK);
        return t;
    }

    /** Like {@link #task(int)}, with {@code limits.net_bytes} = {@code netBytes}. */
    public Task task(int id, long netBytes) {
        List<Frame.Reply> replies = new CopyOnWriteArrayList<>();
        Task t = TestTasks.task(id, "t" + id, new io.ukernel.kernel.caps.CapabilitySet(io.ukernel.abi.Cap.ALL_MASK),
                64, Policy.Limits.DEFAULT_QUEUED_BYTES, netBytes, replies);
        late.put(t, replies);
        check(call(t, Call.CAP_ACQUIRE, Value.of(io.ukernel.abi.Cap.ALL_MASK)), Status.OK);
        return t;
    }

    /** Runs {@code work} on the reactor thread and returns its result. */
    public <T> T onReactor(Supplier<T> work) {
        CompletableFuture<T> f = new CompletableFuture<>();
        reactor.execute(() -> {
            try {
                f.complete(work.get());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        try {
            return f.get(WAIT_MS, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            throw new AssertionError("reactor did not run the work in time", e);
        }
    }

    /** Serves one call on the reactor thread; null when it was parked. */
    public Frame.Reply call(Task task, Call call, Value... args) {
        Frame.Request r = request(call, args);
        return onReactor(() -> dispatcher.dispatch(task, r));
    }

    /** A request with this kernel's next seq, for {@link #inOneTurn}. */
    public Frame.Request request(Call call, Value... args) {
        return new Frame.Request(++seq, call, args);
    }

    /**
     * Serves the requests one after another in a single reactor turn: no host readiness is handled between them,
     * so what one reply says still holds for the next (e.g. a full send buffer is still full when polled).
     */
    public List<Frame.Reply> inOneTurn(Task task, Frame.Request... requests) {
        return onReactor(() -> java.util.Arrays.stream(requests).map(r -> dispatcher.dispatch(task, r)).toList());
    }

    /** {@code io_poll(pairs, timeoutNs)}, waiting (bounded) for the parked reply if it was parked. */
    public long[] poll(Task task, long timeoutNs, long... pairs) {
        return pollLater(task, timeoutNs, pairs).get();
    }

    /**
     * Sends {@code io_poll(pairs, timeoutNs)} now; the returned supplier waits (bounded) for its reply, which may
     * come at once or be parked until a signal changes.
     */
    public Supplier<long[]> pollLater(Task task, long timeoutNs, long... pairs) {
        List<Frame.Reply> replies = late.get(task);
        int before = replies.size();
        Frame.Reply now = call(task, Call.IO_POLL, Value.of(pairs), Value.of(timeoutNs));
        return () -> {
            Frame.Reply r = now == null ? awaitReply(replies, before) : now;
            check(r, Status.OK);
            return ((Value.I64s) r.values().get(0)).value();
        };
    }

    /** The next reply to a parked call of {@code task} from now on, waited for (bounded) when asked. */
    public Supplier<Frame.Reply> nextLate(Task task) {
        List<Frame.Reply> replies = late.get(task);
        int before = replies.size();
        return () -> awaitReply(replies, before);
    }

    /** Serves one call; the supplier waits (bounded) for its reply, at once or parked (a direct net_connect). */
    public Supplier<Frame.Reply> callLater(Task task, Call call, Value... args) {
        List<Frame.Reply> replies = late.get(task);
        int before = replies.size();
        Frame.Reply now = call(task, call, args);
        return () -> now == null ? awaitReply(replies, before) : now;
    }

    /** Waits (bounded) until {@code replies} holds more than {@code before} replies; returns the first new one. */
    private static Frame.Reply awaitReply(List<Frame.Reply> replies, int before) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
        synchronized (replies) {
            while (replies.size() <= before) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("io_poll was not answered in " + WAIT_MS + " ms");
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(replies, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError(e);
                }
            }
            return replies.get(before);
        }
    }

    /** The events reported for {@code handle} by a poll of it alone with {@code interest} (0 when none). */
    public long events(Task task, long handle, long interest, long timeoutNs) {
        long[] ready = poll(task, timeoutNs, handle, interest);
        return ready.length == 0 ? 0 : ready[1];
    }

    /** Asserts the reply's status and returns the reply. */
    public static Frame.Reply check(Frame.Reply r, Status expected) {
        if (r == null || r.status() != expected) {
            throw new AssertionError("expected " + expected + " but got " + (r == null ? "a parked call" : r));
        }
        return r;
    }

    public static long i64(Frame.Reply r, int index) {
        return ((Value.I64) r.values().get(index)).value();
    }

    public static byte[] bytes(Frame.Reply r, int index) {
        return ((Value.Bytes) r.values().get(index)).value();
    }

    public String console() {
        return terminal.toString(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        onReactor(() -> {
            late.keySet().forEach(t -> t.handles().closeAll());
            return null;
        });
        reactor.stop();
        try {
            thread.join(WAIT_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!bugs.isEmpty()) {
            AssertionError e = new AssertionError("the reactor reported kernel bugs");
            bugs.forEach(e::addSuppressed);
            throw e;
        }
    }
}
