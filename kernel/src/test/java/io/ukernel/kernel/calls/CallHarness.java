package io.ukernel.kernel.calls;

import io.ukernel.abi.Call;
import io.ukernel.abi.Frame;
import io.ukernel.abi.Value;
import io.ukernel.kernel.policy.Policy;
import io.ukernel.kernel.FakeClock;
import io.ukernel.kernel.KernelContext;
import io.ukernel.kernel.Reactor;
import io.ukernel.kernel.TestTasks;
import java.util.List;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.LineFormat;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** Frames in, replies out: the real call table and dispatcher, no sockets (Netty's EmbeddedChannel idea). */
final class CallHarness {
    final FakeClock clock = new FakeClock();
    final ByteArrayOutputStream terminal = new ByteArrayOutputStream();
    final Console console;
    final Dispatcher dispatcher;
    private final CallTable table;
    final Reactor reactor;
    Policy manifest = TestTasks.policy(List.of());
    final TestTasks.Control tasks = new TestTasks.Control();
    private int seq;

    CallHarness() {
        try {
            console = Console.open(clock, LineFormat.TEXT, new PrintStream(terminal, true, StandardCharsets.UTF_8),
                    null, true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            reactor = new Reactor(e -> {
                throw new AssertionError("kernel bug", e);
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        table = CallTable.v1(new KernelContext(console, clock, reactor, manifest, tasks, java.nio.file.Path.of(".")));
        dispatcher = new Dispatcher(table, console);
    }

    /** Serves one call; a parked call (io_poll) returns null. */
    Frame.Reply call(Task task, Call call, Value... args) {
        Frame.Reply r = dispatcher.dispatch(task, new Frame.Request(++seq, call, args));
        if (r != null && r.seq() != seq) {
            throw new AssertionError("reply seq " + r.seq() + " does not answer request " + seq);
        }
        return r;
    }

    CallTable table() {
        return table;
    }

    String console() {
        return terminal.toString(StandardCharsets.UTF_8);
    }
}
