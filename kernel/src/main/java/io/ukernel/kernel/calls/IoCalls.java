package io.ukernel.kernel.calls;

import io.ukernel.abi.Abi;
import io.ukernel.abi.OpenFlag;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.abi.Whence;
import io.ukernel.kernel.policy.Policy.Preopen;
import io.ukernel.kernel.KernelContext;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.Level;
import io.ukernel.kernel.io.ErrnoException;
import io.ukernel.kernel.io.FileStat;
import io.ukernel.kernel.io.OpenFile;
import io.ukernel.kernel.io.Preopens;
import io.ukernel.kernel.policy.PolicyHints;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.StringJoiner;

/**
 * {@code io_open}, {@code io_read}, {@code io_write}, {@code io_seek}, {@code io_stat}, {@code io_close}: files
 * inside the manifest's preopens (docs/kernel-abi.md §10). Every refusal of a path is audited on the console
 * ({@code io.denied}). Host calls run inline on the reactor thread.
 */
final class IoCalls {
    /** The largest {@code io_read} result one reply frame can carry (§2.2): header after length, tag, length. */
    static final int MAX_READ = Abi.MAX_FRAME_BYTES - (Abi.REPLY_HEADER_BYTES - 4) - 5;
    private static final long READ = OpenFlag.READ.bit();
    private static final long WRITE = OpenFlag.WRITE.bit();
    /** Every flag but READ: each needs WRITE and an {@code rw} preopen. */
    private static final long WRITE_FLAGS = OpenFlag.ALL_MASK & ~READ;

    private final Console console;
    private final Preopens preopens;
    private final PolicyHints hints;

    IoCalls(KernelContext ctx) {
        this.console = ctx.console();
        this.preopens = new Preopens(ctx.appDir(), ctx.policy().preopens());
        this.hints = ctx.policy().hints();
    }

    Outcome open(Task task, Args args) {
        String name = text(args.bytes(0));
        String rel = text(args.bytes(1));
        long flags = args.i64(2);
        if (name == null || rel == null || rel.isEmpty()) {
            return Outcome.err(Status.ERR_INVAL, "preopen and relpath must be UTF-8 without NUL, relpath not empty");
        }
        String bad = badFlags(flags);
        if (bad != null) {
            return Outcome.err(Status.ERR_INVAL, "flags " + flags + ": " + bad);
        }
        Preopen p = preopens.get(name).orElse(null);
        if (p == null) {
            return Outcome.err(Status.ERR_NOTFOUND, "no preopen named " + quote(name) + " ("
                    + hints.preopens(preopens.names()) + ")");
        }
        String escape = Preopens.escape(rel);
        if (escape != null) {
            return denied(task, p, rel, flags, escape);
        }
        if ((flags & WRITE_FLAGS) != 0 && !p.writable()) {
            return denied(task, p, rel, flags, "write flags on a read-only preopen (mode = \"ro\")");
        }
        if (task.handles().room() <= 0) {
            return Outcome.err(Status.ERR_LIMIT, "handle table full: " + IpcCalls.usage(task.handles(), hints));
        }
        try {
            OpenFile f = preopens.open(p, rel, flags);
            return Outcome.ok(Value.of(task.handles().install(f).orElseThrow()));
        } catch (ErrnoException e) {
            return e.status() == Status.ERR_DENIED ? denied(task, p, rel, flags, e.denial())
                    : Outcome.err(e.status(), e.getMessage());
        }
    }

    Outcome read(Task task, Args args) {
        long h = args.i64(0);
        long max = args.i64(1);
        OpenFile f = task.handles().get(h, OpenFile.class).orElse(null);
        if (f == null) {
            return notFile(h);
        }
        if (!f.readable()) {
            return Outcome.err(Status.ERR_DENIED, "file " + h + " was not opened with READ");
        }
        if (max <= 0) {
            return Outcome.err(Status.ERR_INVAL, "max " + max + " must be positive");
        }
        try {
            return Outcome.ok(Value.of(f.read((int) Math.min(max, MAX_READ))));
        } catch (ErrnoException e) {
            return Outcome.err(e.status(), e.getMessage());
        }
    }

    Outcome write(Task task, Args args) {
        long h = args.i64(0);
        OpenFile f = task.handles().get(h, OpenFile.class).orElse(null);
        if (f == null) {
            return notFile(h);
        }
        if (!f.writable()) {
            return Outcome.err(Status.ERR_DENIED, "file " + h + " was not opened with WRITE");
        }
        try {
            return Outcome.ok(Value.of(f.write(args.bytes(1))));
        } catch (ErrnoException e) {
            return Outcome.err(e.status(), e.getMessage());
        }
    }

    Outcome seek(Task task, Args args) {
        long h = args.i64(0);
        long whence = args.i64(2);
        OpenFile f = task.handles().get(h, OpenFile.class).orElse(null);
        if (f == null) {
            return notFile(h);
        }
        if (whence < Whence.SET.value() || whence > Whence.END.value()) {
            return Outcome.err(Status.ERR_INVAL, "whence " + whence + " is not SEEK_SET, SEEK_CUR or SEEK_END");
        }
        try {
            return Outcome.ok(Value.of(f.seek(args.i64(1), (int) whence)));
        } catch (ErrnoException e) {
            return Outcome.err(e.status(), e.getMessage());
        }
    }

    Outcome stat(Task task, Args args) {
        long h = args.i64(0);
        OpenFile f = task.handles().get(h, OpenFile.class).orElse(null);
        if (f == null) {
            return notFile(h);
        }
        try {
            FileStat s = f.stat();
            return Outcome.ok(Value.of(s.size()), Value.of(s.mtimeNs()), Value.of(s.kind().value()));
        } catch (ErrnoException e) {
            return Outcome.err(e.status(), e.getMessage());
        }
    }

    Outcome close(Task task, Args args) {
        long h = args.i64(0);
        if (task.handles().get(h, OpenFile.class).isEmpty()) {
            return notFile(h);
        }
        task.handles().close(h);
        return Outcome.ok();
    }

    private static Outcome notFile(long h) {
        return Outcome.err(Status.ERR_BADHANDLE, "handle " + h + " is not a file");
    }

    /** Refuses an open for reaching outside the preopen, and says so on the console (an audit line). */
    private Outcome denied(Task task, Preopen p, String rel, long flags, String why) {
        String call = "io_open(" + quote(p.name()) + ", " + quote(rel) + ", " + formatFlags(flags) + ")";
        console.audit(task.name(), task.id(), Level.WARN, "io.denied", "io: denied " + call + ": " + why);
        return Outcome.audited(Status.ERR_DENIED, call + ": " + why);
    }

    /** Why {@code flags} break §10's rules, or null. */
    private static String badFlags(long flags) {
        if ((flags & ~OpenFlag.ALL_MASK) != 0) {
            return "unknown bits";
        }
        if ((flags & (READ | WRITE)) == 0) {
            return "needs READ or WRITE";
        }
        if ((flags & WRITE_FLAGS) != 0 && (flags & WRITE) == 0) {
            return "CREATE, TRUNCATE, APPEND and EXCLUSIVE need WRITE";
        }
        if ((flags & OpenFlag.EXCLUSIVE.bit()) != 0 && (flags & OpenFlag.CREATE.bit()) == 0) {
            return "EXCLUSIVE needs CREATE";
        }
        return null;
    }

    private static String formatFlags(long flags) {
        StringJoiner j = new StringJoiner("|");
        for (OpenFlag f : OpenFlag.values()) {
            if ((flags & f.bit()) != 0) {
                j.add(f.name());
            }
        }
        return j.toString();
    }

    /** Strict UTF-8 without NUL, or null. */
    private static String text(byte[] bytes) {
        try {
            String s = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
            return s.indexOf('\0') < 0 ? s : null;
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** A worker-chosen string made safe for one console line: quoted, control characters escaped. */
    private static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
                b.append(String.format("\\x%02x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
