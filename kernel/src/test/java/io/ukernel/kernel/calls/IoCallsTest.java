package io.ukernel.kernel.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.Call;
import io.ukernel.abi.Cap;
import io.ukernel.abi.Event;
import io.ukernel.abi.Frame;
import io.ukernel.abi.OpenFlag;
import io.ukernel.abi.StatKind;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.abi.Whence;
import io.ukernel.kernel.policy.Policy;
import io.ukernel.kernel.policy.Policy.Preopen;
import io.ukernel.kernel.FakeClock;
import io.ukernel.kernel.KernelContext;
import io.ukernel.kernel.Reactor;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.TestTasks;
import io.ukernel.kernel.caps.CapabilitySet;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.LineFormat;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The IO family through the real call table and dispatcher, on real files in a temporary app directory. */
class IoCallsTest {
    private static final long R = OpenFlag.READ.bit();
    private static final long W = OpenFlag.WRITE.bit();
    private static final long RW = R | W;
    private static final long CREATE = OpenFlag.CREATE.bit();
    private static final long TRUNCATE = OpenFlag.TRUNCATE.bit();
    private static final long APPEND = OpenFlag.APPEND.bit();
    private static final long EXCLUSIVE = OpenFlag.EXCLUSIVE.bit();

    @TempDir
    Path app;
    final ByteArrayOutputStream terminal = new ByteArrayOutputStream();
    Dispatcher dispatcher;
    Task task;
    int seq;

    @BeforeEach
    void setUp() throws IOException {
        Files.createDirectories(app.resolve("data/sub"));
        Files.createDirectories(app.resolve("conf"));
        Files.createDirectories(app.resolve("outside"));
        Files.writeString(app.resolve("conf/app.cfg"), "port=8080\n");
        Files.writeString(app.resolve("outside/secret"), "secret");
        Policy m = new Policy("t", "src/main.py", "3.11", Cap.ALL_MASK,
                Policy.NetScope.none(), Map.of("data", new Preopen("data", "data", true),
                        "conf", new Preopen("conf", "conf", false)),
                Policy.Limits.defaults(), Policy.RestartPolicy.never(), List.of());
        Console console = Console.open(new FakeClock(), LineFormat.TEXT,
                new PrintStream(terminal, true, StandardCharsets.UTF_8), null, true);
        Reactor reactor = new Reactor(e -> {
            throw new AssertionError("kernel bug", e);
        });
        dispatcher = new Dispatcher(CallTable.v1(new KernelContext(console, new FakeClock(), reactor, m,
                new TestTasks.Control(), app)), console);
        task = TestTasks.task(1, "main", CapabilitySet.of(Cap.IO, Cap.IPC));
        assertEquals(Status.OK, call(Call.CAP_ACQUIRE, Value.of(Cap.IO.bit() | Cap.IPC.bit())).status());
    }

    private Frame.Reply call(Call c, Value... args) {
        return dispatcher.dispatch(task, new Frame.Request(++seq, c, args));
    }

    private Frame.Reply open(String preopen, String rel, long flags) {
        return call(Call.IO_OPEN, Value.of(preopen), Value.of(rel), Value.of(flags));
    }

    private long openOk(String preopen, String rel, long flags) {
        Frame.Reply r = open(preopen, rel, flags);
        assertEquals(Status.OK, r.status(), () -> preopen + ":" + rel + " " + console());
        return i64(r, 0);
    }

    private Status openStatus(String preopen, String rel, long flags) {
        return open(preopen, rel, flags).status();
    }

    private static long i64(Frame.Reply r, int i) {
        return ((Value.I64) r.values().get(i)).value();
    }

    private String read(long h, long max) {
        Frame.Reply r = call(Call.IO_READ, Value.of(h), Value.of(max));
        assertEquals(Status.OK, r.status());
        return new String(((Value.Bytes) r.values().get(0)).value(), StandardCharsets.UTF_8);
    }

    private long write(long h, String s) {
        Frame.Reply r = call(Call.IO_WRITE, Value.of(h), Value.of(s));
        assertEquals(Status.OK, r.status());
        return i64(r, 0);
    }

    private long seek(long h, long offset, Whence whence) {
        Frame.Reply r = call(Call.IO_SEEK, Value.of(h), Value.of(offset), Value.of(whence.value()));
        assertEquals(Status.OK, r.status());
        return i64(r, 0);
    }

    private String console() {
        return terminal.toString(StandardCharsets.UTF_8);
    }

    private static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    @Test
    void readWriteSeekStat_roundTripInAnRwPreopen() throws IOException {
        long h = openOk("data", "notes.txt", RW | CREATE);
        assertEquals(11, write(h, "hello world"));
        assertEquals(6, seek(h, -5, Whence.END));
        assertEquals("wor", read(h, 3));
        assertEquals(9, seek(h, 0, Whence.CUR));
        assertEquals("ld", read(h, 100));
        assertEquals("", read(h, 100), "empty = end of file");
        assertEquals(0, seek(h, 0, Whence.SET));
        assertEquals("hello world", read(h, Long.MAX_VALUE), "max is clamped, not refused");
        Frame.Reply st = call(Call.IO_STAT, Value.of(h));
        assertEquals(11, i64(st, 0));
        assertEquals(Files.getLastModifiedTime(app.resolve("data/notes.txt")).toMillis(), i64(st, 1) / 1_000_000);
        assertEquals(StatKind.FILE.value(), i64(st, 2));
        assertEquals(Status.OK, call(Call.IO_CLOSE, Value.of(h)).status());
        assertEquals(Status.ERR_BADHANDLE, call(Call.IO_READ, Value.of(h), Value.of(1)).status());
        assertEquals("hello world", Files.readString(app.resolve("data/notes.txt")));
    }

    @Test
    void open_createTruncateAppendExclusive() throws IOException {
        assertEquals(Status.ERR_NOTFOUND, openStatus("data", "new.txt", RW), "missing without CREATE");
        long a = openOk("data", "new.txt", W | CREATE | EXCLUSIVE);
        write(a, "12345");
        assertEquals(Status.ERR_INVAL, openStatus("data", "new.txt", W | CREATE | EXCLUSIVE), "exists (§10)");
        long b = openOk("data", "new.txt", W | APPEND);
        seek(b, 0, Whence.SET);
        write(b, "67");
        assertEquals("1234567", Files.readString(app.resolve("data/new.txt")), "APPEND writes at the end");
        openOk("data", "new.txt", W | TRUNCATE);
        assertEquals("", Files.readString(app.resolve("data/new.txt")));
        openOk("data", "sub/deeper.txt", W | CREATE);
        assertTrue(Files.exists(app.resolve("data/sub/deeper.txt")));
        assertEquals(Status.ERR_NOTFOUND, openStatus("data", "nodir/x.txt", W | CREATE));
    }

    @Test
    void roPreopen_readsButDeniesEveryWriteFlag() {
        long h = openOk("conf", "app.cfg", R);
        assertEquals("port=8080\n", read(h, 100));
        assertEquals(Status.ERR_DENIED, call(Call.IO_WRITE, Value.of(h), Value.of("x")).status(),
                "not opened with WRITE");
        for (long flags : new long[] {W, RW, W | CREATE, W | TRUNCATE, W | APPEND, W | CREATE | EXCLUSIVE}) {
            assertEquals(Status.ERR_DENIED, openStatus("conf", "app.cfg", flags), "flags " + flags);
        }
        assertTrue(console().contains("io: denied io_open(\"conf\", \"app.cfg\", WRITE): write flags on a "
                + "read-only preopen"), console());
    }

    @Test
    void open_escapes_areAllDenied_andAudited() throws IOException {
        Path data = app.resolve("data");
        Files.createSymbolicLink(data.resolve("passwd"), Path.of("/etc/passwd"));
        Files.createSymbolicLink(data.resolve("up"), Path.of(".."));
        Files.createSymbolicLink(data.resolve("out"), Path.of("../outside"));
        Files.createSymbolicLink(data.resolve("outabs"), app.resolve("outside"));
        for (String rel : List.of("../outside/secret", "a/../../outside/secret", "sub/../x", "/etc/passwd",
                "passwd", "up", "up/outside/secret", "out/secret", "outabs/secret")) {
            assertEquals(Status.ERR_DENIED, openStatus("data", rel, R), rel);
            assertEquals(Status.ERR_DENIED, openStatus("data", rel, RW | CREATE), rel);
        }
        assertFalse(Files.exists(app.resolve("x")));
        String c = console();
        assertTrue(c.contains("io.denied") || c.contains("io: denied"), c);
        assertTrue(c.contains("io: denied io_open(\"data\", \"../outside/secret\", READ): a \"..\" component"), c);
        assertTrue(c.contains("io: denied io_open(\"data\", \"/etc/passwd\", READ): an absolute path"), c);
        assertTrue(c.contains("io: denied io_open(\"data\", \"passwd\", READ): the path leads outside the preopen"),
                c);
        assertTrue(c.contains("io: denied io_open(\"data\", \"out/secret\", READ): the path leads outside"), c);
    }

    @Test
    void open_relativeLinkInside_isFollowed() throws IOException {
        Files.writeString(app.resolve("data/sub/real.txt"), "real");
        Files.createSymbolicLink(app.resolve("data/alias"), Path.of("sub/real.txt"));
        Files.createSymbolicLink(app.resolve("data/subdir"), Path.of("sub"));
        assertEquals("real", read(openOk("data", "alias", R), 10));
        assertEquals("real", read(openOk("data", "subdir/real.txt", R), 10));
    }

    @Test
    void open_badArguments_areInval() {
        assertEquals(Status.ERR_INVAL, openStatus("data", "a\0b", RW | CREATE), "NUL in the path");
        assertEquals(Status.ERR_INVAL, call(Call.IO_OPEN, Value.of("data"), Value.of(new byte[] {(byte) 0xff}),
                Value.of(R)).status(), "not UTF-8");
        assertEquals(Status.ERR_INVAL, openStatus("data", "", R), "empty");
        assertEquals(Status.ERR_INVAL, openStatus("data", "x", 0), "neither READ nor WRITE");
        assertEquals(Status.ERR_INVAL, openStatus("data", "x", R | CREATE), "write flag without WRITE");
        assertEquals(Status.ERR_INVAL, openStatus("data", "x", W | EXCLUSIVE), "EXCLUSIVE without CREATE");
        assertEquals(Status.ERR_INVAL, openStatus("data", "x", R | 64), "unknown bit");
        assertEquals(Status.ERR_INVAL, openStatus("data", "sub", RW), "a directory with a write flag");
        assertFalse(Files.exists(app.resolve("data/x")));
    }

    @Test
    void open_unknownPreopen_isNotFound() {
        assertEquals(Status.ERR_NOTFOUND, openStatus("nope", "x", R));
        assertEquals(Status.ERR_NOTFOUND, openStatus("data", "missing.txt", R));
    }

    @Test
    void directory_opensReadOnly_forStat() {
        long d = openOk("data", ".", R);
        assertEquals(StatKind.DIRECTORY.value(), i64(call(Call.IO_STAT, Value.of(d)), 2));
        assertEquals(Status.ERR_INVAL, call(Call.IO_READ, Value.of(d), Value.of(10)).status());
    }

    @Test
    void readSeek_badArguments_areInval() {
        long h = openOk("data", "f", RW | CREATE);
        assertEquals(Status.ERR_INVAL, call(Call.IO_READ, Value.of(h), Value.of(0)).status());
        assertEquals(Status.ERR_INVAL, call(Call.IO_SEEK, Value.of(h), Value.of(0), Value.of(3)).status());
        assertEquals(Status.ERR_INVAL, call(Call.IO_SEEK, Value.of(h), Value.of(-1), Value.of(0)).status());
        assertEquals(0, seek(h, 0, Whence.CUR), "a refused seek does not move");
        assertEquals(1000, seek(h, 1000, Whence.SET), "beyond the end is allowed");
    }

    @Test
    void wrongKindOrForeignHandle_isBadHandle() {
        Frame.Reply ch = call(Call.IPC_CHANNEL_CREATE);
        long channel = i64(ch, 0);
        for (Call c : List.of(Call.IO_STAT, Call.IO_CLOSE)) {
            assertEquals(Status.ERR_BADHANDLE, call(c, Value.of(channel)).status(), c.abiName());
            assertEquals(Status.ERR_BADHANDLE, call(c, Value.of(99)).status(), c.abiName());
        }
        assertEquals(Status.ERR_BADHANDLE, call(Call.IO_READ, Value.of(channel), Value.of(1)).status());
        assertEquals(Status.ERR_BADHANDLE, call(Call.IO_WRITE, Value.of(channel), Value.of("x")).status());
        assertEquals(Status.ERR_BADHANDLE, call(Call.IO_SEEK, Value.of(channel), Value.of(0), Value.of(0)).status());
        long f = openOk("data", "f", RW | CREATE);
        assertEquals(Status.ERR_BADHANDLE, call(Call.IPC_RECV, Value.of(f)).status(), "and the other way round");
    }

    @Test
    void open_handleTableFull_isLimit_andCreatesNothing() {
        for (int i = task.handles().size(); i < task.handles().limit(); i++) {
            openOk("data", "f" + i, RW | CREATE);
        }
        assertEquals(Status.ERR_LIMIT, openStatus("data", "extra", RW | CREATE));
        assertFalse(Files.exists(app.resolve("data/extra")));
    }

    @Test
    void ioNotActive_isDenied() {
        long h = openOk("data", "f", RW | CREATE);
        call(Call.CAP_DROP, Value.of(Cap.IO.bit()));
        assertEquals(Status.ERR_DENIED, openStatus("data", "f", R));
        assertEquals(Status.ERR_DENIED, call(Call.IO_READ, Value.of(h), Value.of(1)).status());
        assertEquals(Status.OK, call(Call.HANDLE_CLOSE, Value.of(h)).status(), "handle_close needs no capability");
    }

    @Test
    void poll_onAFile_isReadableAndWritable() {
        long h = openOk("data", "f", W | CREATE);
        int rw = Event.READABLE.bit() | Event.WRITABLE.bit();
        Frame.Reply r = call(Call.IO_POLL, Value.of(h, rw | Event.HANGUP.bit()), Value.of(0));
        assertEquals(Value.of(h, rw), r.values().get(0));
    }

    @Test
    void taskExit_closesItsFiles() throws IOException {
        call(Call.IO_CLOSE, Value.of(openOk("data", "warm", RW | CREATE))); // the preopen's own fd, once
        long baseline = openFds();
        for (int i = 0; i < 5; i++) {
            openOk("data", "f" + i, RW | CREATE);
        }
        assertEquals(baseline + 5, openFds());
        TestTasks.exit(task, 0);
        assertEquals(baseline, openFds());
    }
}
