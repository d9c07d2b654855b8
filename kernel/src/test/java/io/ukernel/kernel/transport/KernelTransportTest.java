package io.ukernel.kernel.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Call;
import io.ukernel.abi.Cap;
import io.ukernel.abi.Decoded;
import io.ukernel.abi.Frame;
import io.ukernel.abi.FrameCodec;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.policy.Policy;
import io.ukernel.kernel.Kernel;
import io.ukernel.kernel.KernelClock;
import io.ukernel.kernel.KernelConfig;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.LineFormat;
import io.ukernel.platform.spi.Platform;
import io.ukernel.platform.spi.Worker;
import io.ukernel.platform.spi.WorkerListener;
import io.ukernel.platform.spi.WorkerSpec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The kernel over a real Unix socket, with workers played by Java clients on the kernel's real endpoint (the
 * Python worker runs in the CLI's end-to-end tests). Frames go in as bytes, replies come back as bytes.
 */
class KernelTransportTest {

    /** A worker body: gets a connected socket (hello not yet sent) and the spec; returns its exit status. */
    interface Script {
        int run(SocketChannel ch, WorkerSpec spec) throws Exception;
    }

    /** A platform whose "worker" is a Java thread running a script against the real endpoint. */
    static final class ScriptPlatform implements Platform {
        final Script script;

        ScriptPlatform(Script script) {
            this.script = script;
        }

        @Override
        public String name() {
            return "script";
        }

        @Override
        public String describe() {
            return "java test workers";
        }

        @Override
        public Worker start(WorkerSpec spec, WorkerListener listener) {
            CompletableFuture<Integer> exit = new CompletableFuture<>();
            Thread t = Thread.ofVirtual().start(() -> {
                int status;
                try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                    ch.connect(UnixDomainSocketAddress.of(spec.endpoint()));
                    status = script.run(ch, spec);
                } catch (Exception e) {
                    listener.output(e.toString(), true);
                    status = 99;
                }
                exit.complete(status);
                listener.exited(status);
            });
            return new Worker() {
                @Override
                public long pid() {
                    return t.threadId();
                }

                @Override
                public void terminate() {
                    t.interrupt();
                }

                @Override
                public void kill() {
                    t.interrupt();
                }

                @Override
                public boolean alive() {
                    return !exit.isDone();
                }
            };
        }
    }

    final ByteArrayOutputStream consoleBytes = new ByteArrayOutputStream();

    int boot(long grant, Script script) throws Exception {
        Policy m = new Policy("t", "src/main.py", "3.11", grant,
                Policy.NetScope.none(), Map.of(), Policy.Limits.defaults(), Policy.RestartPolicy.never(),
                List.of());
        Console console = Console.open(KernelClock.system(), LineFormat.TEXT,
                new PrintStream(consoleBytes, true, StandardCharsets.UTF_8), null, true);
        Kernel k = new Kernel(new KernelConfig(m, Path.of("."), Path.of("."), Map.of(), new ScriptPlatform(script), console,
                KernelClock.system(), TimeUnit.SECONDS.toNanos(2)));
        return CompletableFuture.supplyAsync(k::run).get(120, TimeUnit.SECONDS); // bounds a hang only
    }

    String console() {
        return consoleBytes.toString(StandardCharsets.UTF_8);
    }

    static void send(SocketChannel ch, Frame... frames) throws IOException {
        ByteBuffer out = ByteBuffer.allocate(List.of(frames).stream().mapToInt(FrameCodec::size).sum());
        for (Frame f : frames) {
            FrameCodec.encode(f, out);
        }
        out.flip();
        while (out.hasRemaining()) {
            ch.write(out);
        }
    }

    static void sendRaw(SocketChannel ch, byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Reads replies until {@code n} arrived or the kernel closed the connection. */
    static List<Frame.Reply> read(SocketChannel ch, int n) throws IOException {
        List<Frame.Reply> replies = new ArrayList<>();
        ByteBuffer in = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        while (replies.size() < n) {
            if (ch.read(in) < 0) {
                break;
            }
            in.flip();
            while (FrameCodec.decodeReply(in) instanceof Decoded.Whole<Frame.Reply> w) {
                replies.add(w.frame());
                in.position(in.position() + w.consumed());
            }
            in.compact();
        }
        return replies;
    }

    static Frame.Request hello(WorkerSpec spec) {
        return new Frame.Request(1, Call.HELLO, Value.of(HexFormat.of().parseHex(spec.token())), Value.of(Abi.VERSION));
    }

    @Test
    void batchOfCalls_inOneWrite_getsEveryReplyInOrder() throws Exception {
        List<Frame.Reply> got = new ArrayList<>();
        int status = boot(Cap.LOG.bit() | Cap.TIME.bit(), (ch, spec) -> {
            send(ch, hello(spec),
                    new Frame.Request(2, Call.CAP_ACQUIRE, Value.of(Cap.LOG.bit() | Cap.TIME.bit())),
                    new Frame.Request(3, Call.LOG_WRITE, Value.of(20), Value.of("batched hello")),
                    new Frame.Request(4, Call.TIME_MONOTONIC_NS),
                    new Frame.Request(5, Call.TASK_EXIT, Value.of(0)));
            got.addAll(read(ch, 5));
            return 0;
        });
        assertEquals(0, status);
        assertEquals(List.of(1, 2, 3, 4, 5), got.stream().map(Frame.Reply::seq).toList());
        assertTrue(got.stream().allMatch(r -> r.status() == Status.OK), got.toString());
        assertEquals(List.of(Value.of(1), Value.of(Abi.VERSION)), got.get(0).values());
        assertTrue(console().contains("main#1 INFO  batched hello"), console());
    }

    @Test
    void helloWithAWrongToken_isDenied_andTheConnectionClosed() throws Exception {
        List<Frame.Reply> got = new ArrayList<>();
        boot(Cap.LOG.bit(), (ch, spec) -> {
            send(ch, new Frame.Request(1, Call.HELLO, Value.of(new byte[16]), Value.of(Abi.VERSION)),
                    new Frame.Request(2, Call.ABI_VERSION));
            got.addAll(read(ch, 2));
            return 3;
        });
        assertEquals(List.of(Frame.Reply.error(1, Status.ERR_DENIED)), got);
        assertTrue(console().contains("rejected a connection: hello without a valid token"), console());
    }

    @Test
    void aCallBeforeHello_isDenied() throws Exception {
        List<Frame.Reply> got = new ArrayList<>();
        boot(Cap.LOG.bit(), (ch, spec) -> {
            send(ch, new Frame.Request(1, Call.ABI_VERSION));
            got.addAll(read(ch, 1));
            return 0;
        });
        assertEquals(List.of(Frame.Reply.error(1, Status.ERR_DENIED)), got);
    }

    @Test
    void recoverableGarbage_getsInval_andTheConnectionGoesOn() throws Exception {
        List<Frame.Reply> got = new ArrayList<>();
        boot(0, (ch, spec) -> {
            send(ch, hello(spec));
            // length 9, seq 77, call 1, argc 1, then an unknown tag 9: malformed but delimited
            sendRaw(ch, new byte[] {9, 0, 0, 0, 77, 0, 0, 0, 1, 0, 1, 0, 9});
            send(ch, new Frame.Request(78, Call.ABI_VERSION), new Frame.Request(79, Call.TASK_EXIT, Value.of(0)));
            got.addAll(read(ch, 4));
            return 0;
        });
        assertEquals(Frame.Reply.error(77, Status.ERR_INVAL), got.get(1));
        assertEquals(Frame.Reply.ok(78, Value.of(Abi.VERSION)), got.get(2));
    }

    @Test
    void oversizeLength_disconnectsWithAConsoleLine_andTheKernelKeepsServingOthers() throws Exception {
        int status = boot(0, (ch, spec) -> {
            send(ch, hello(spec));
            read(ch, 1);
            sendRaw(ch, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0x7f});
            List<Frame.Reply> after = read(ch, 1);
            return after.isEmpty() ? 5 : 6;
        });
        assertEquals(5, status, "the kernel must close the connection after an oversize length");
        assertTrue(console().contains("disconnected from the kernel: protocol error: frame length"), console());
        assertTrue(console().contains("task main#1 exited with status 5"), console());
    }

    @Test
    void deniedCall_isAudited_withTheMissingCapability() throws Exception {
        List<Frame.Reply> got = new ArrayList<>();
        boot(Cap.LOG.bit(), (ch, spec) -> {
            send(ch, hello(spec), new Frame.Request(2, Call.TIME_WALL_NS),
                    new Frame.Request(3, Call.CAP_ACQUIRE, Value.of(Cap.TIME.bit())),
                    new Frame.Request(4, Call.TASK_EXIT, Value.of(0)));
            got.addAll(read(ch, 4));
            return 0;
        });
        assertEquals(Status.ERR_DENIED, got.get(1).status());
        assertEquals(Status.ERR_DENIED, got.get(2).status());
        assertTrue(console().contains("time_wall_ns: denied: needs TIME (active none; call cap_acquire first, "
                + "and grant it in the app's policy)"), console());
        assertTrue(console().contains("caps: denied TIME: TIME beyond this task's ceiling LOG"), console());
    }

    @Test
    void helloFromAnotherMajorVersion_isInval_andClosed() throws Exception {
        List<Frame.Reply> got = new ArrayList<>();
        boot(0, (ch, spec) -> {
            send(ch, new Frame.Request(1, Call.HELLO, Value.of(HexFormat.of().parseHex(spec.token())),
                    Value.of((Abi.VERSION_MAJOR + 1L) << 16)), new Frame.Request(2, Call.ABI_VERSION));
            got.addAll(read(ch, 2));
            return 0;
        });
        assertEquals(List.of(Frame.Reply.error(1, Status.ERR_INVAL)), got);
        assertTrue(console().contains("this kernel speaks ABI " + io.ukernel.abi.Abi.VERSION_MAJOR + "." + io.ukernel.abi.Abi.VERSION_MINOR), console());
    }

    @Test
    void taskExit_outOfRange_isInval() throws Exception {
        List<Frame.Reply> got = new ArrayList<>();
        boot(0, (ch, spec) -> {
            send(ch, hello(spec), new Frame.Request(2, Call.TASK_EXIT, Value.of(300)),
                    new Frame.Request(3, Call.TASK_EXIT, Value.of(4)));
            got.addAll(read(ch, 3));
            return 4;
        });
        assertEquals(Frame.Reply.error(2, Status.ERR_INVAL), got.get(1));
        assertEquals(Frame.Reply.ok(3), got.get(2));
    }
}
