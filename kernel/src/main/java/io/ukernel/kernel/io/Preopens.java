package io.ukernel.kernel.io;

import io.ukernel.abi.Abi;
import io.ukernel.abi.OpenFlag;
import io.ukernel.kernel.policy.Policy.Preopen;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The manifest's preopens and the only way to open a file: every preopen's directory is opened once, as an
 * {@code O_PATH|O_DIRECTORY} descriptor resolved beneath the app directory (so a preopen is a directory inside
 * the app, as the policy says), on first use; every file is then opened relative to that descriptor by a
 * {@link Resolver}, which refuses anything leading outside. A preopen whose directory cannot be opened is retried
 * on the next call. The descriptors live as long as this object (the kernel's lifetime; {@link #close} ends
 * them). Reactor thread only.
 */
public final class Preopens implements AutoCloseable {
    /** Mode of files created with {@code CREATE}, before the host's umask. */
    static final int CREATE_MODE = 0644;
    private static final int DIR_FLAGS = Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC;

    private final Path appDir;
    private final Map<String, Preopen> preopens;
    /** Chosen on first use, so a kernel on a host without these bindings still boots. */
    private Resolver resolver;
    private final Map<String, Integer> dirs = new HashMap<>();
    private MemorySegment scratch;

    /**
     * @param appDir   the app directory the preopens' paths are relative to
     * @param preopens the policy's preopens, by name
     */
    public Preopens(Path appDir, Map<String, Preopen> preopens) {
        this(appDir, preopens, null);
    }

    Preopens(Path appDir, Map<String, Preopen> preopens, Resolver resolver) {
        this.appDir = appDir.toAbsolutePath();
        this.preopens = Map.copyOf(preopens);
        this.resolver = resolver;
    }

    /** The preopen called {@code name}, if the policy declares one. */
    public Optional<Preopen> get(String name) {
        return Optional.ofNullable(preopens.get(name));
    }

    /** The declared names, for messages. */
    public Set<String> names() {
        return preopens.keySet();
    }

    /** How paths are resolved on this host: {@code openat2} or {@code walk}. */
    public String mechanism() {
        return resolver().mechanism();
    }

    private Resolver resolver() {
        if (resolver == null) {
            resolver = Resolver.host();
        }
        return resolver;
    }

    /**
     * Opens {@code relpath} beneath {@code preopen}.
     *
     * @param relpath relative; the caller has refused absolute paths and {@code ..} ({@link #escape})
     * @param flags   {@link OpenFlag} bits, already checked (READ and/or WRITE; write flags only with WRITE)
     * @throws ErrnoException {@code EXDEV} when the path leads outside, or the host's failure
     */
    public OpenFile open(Preopen preopen, String relpath, long flags) throws ErrnoException {
        int host = hostFlags(flags);
        // O_TRUNC only once the file is known not to be set-ID (below): a root kernel's truncation keeps the bit.
        int fd = resolver().open(dir(preopen), relpath, host & ~Libc.O_TRUNC, CREATE_MODE);
        if (fd < 0) {
            throw new ErrnoException(-fd, "open " + preopen.name() + ":" + relpath);
        }
        OpenFile f = new OpenFile(fd, has(flags, OpenFlag.READ), has(flags, OpenFlag.WRITE), scratch());
        if (has(flags, OpenFlag.WRITE)) {
            // A root kernel keeps a file's set-user-ID bit when it writes (CAP_FSETID): a set-ID file in a preopen
            // (one a worker made with O_CREAT and mode 04755, on a host whose filter allowed it) would become a
            // set-ID program of the worker's choosing. Never written through the kernel.
            boolean setId;
            try {
                setId = f.setId();
            } catch (ErrnoException e) {
                f.close();
                throw e;
            }
            if (setId) {
                f.close();
                throw new ErrnoException(Libc.EPERM, "open " + preopen.name() + ":" + relpath,
                        "a set-user-ID or set-group-ID file is never opened for writing (the kernel would keep the "
                        + "bit: a set-ID program of the worker's choosing)");
            }
            if ((host & Libc.O_TRUNC) != 0) {
                // The same inode through its descriptor's magic link: nothing can be swapped in between.
                int t = Libc.openat(Libc.AT_FDCWD, "/proc/self/fd/" + fd,
                        (host & ~(Libc.O_CREAT | Libc.O_EXCL)) | Libc.O_TRUNC, 0);
                if (t < 0) {
                    f.close();
                    throw new ErrnoException(-t, "truncate " + preopen.name() + ":" + relpath);
                }
                Libc.close(t);
            }
        }
        return f;
    }

    /**
     * Why {@code relpath} would leave its preopen by its spelling alone, or null: absolute, or with a {@code ..}
     * component (refused even when it would come back inside, per §10).
     */
    public static String escape(String relpath) {
        if (relpath.startsWith("/")) {
            return "an absolute path";
        }
        for (String part : relpath.split("/")) {
            if (part.equals("..")) {
                return "a \"..\" component";
            }
        }
        return null;
    }

    /**
     * The host {@code open} flags for ABI {@link OpenFlag} bits: READ/WRITE → {@code O_RDONLY}/{@code O_WRONLY}/
     * {@code O_RDWR}, CREATE → {@code O_CREAT}, TRUNCATE → {@code O_TRUNC}, APPEND → {@code O_APPEND}, EXCLUSIVE →
     * {@code O_EXCL}; always {@code O_CLOEXEC} (workers never inherit it), {@code O_NOCTTY}, and
     * {@code O_NONBLOCK} (opening or reading a FIFO must not hang the reactor; regular files ignore it).
     */
    static int hostFlags(long flags) {
        boolean read = has(flags, OpenFlag.READ);
        boolean write = has(flags, OpenFlag.WRITE);
        int f = read && write ? Libc.O_RDWR : write ? Libc.O_WRONLY : Libc.O_RDONLY;
        f |= Libc.O_CLOEXEC | Libc.O_NOCTTY | Libc.O_NONBLOCK;
        f |= has(flags, OpenFlag.CREATE) ? Libc.O_CREAT : 0;
        f |= has(flags, OpenFlag.TRUNCATE) ? Libc.O_TRUNC : 0;
        f |= has(flags, OpenFlag.APPEND) ? Libc.O_APPEND : 0;
        f |= has(flags, OpenFlag.EXCLUSIVE) ? Libc.O_EXCL : 0;
        return f;
    }

    private static boolean has(long flags, OpenFlag f) {
        return (flags & f.bit()) != 0;
    }

    private int dir(Preopen p) throws ErrnoException {
        Integer open = dirs.get(p.name());
        if (open != null) {
            return open;
        }
        try {
            p.resolve(appDir); // a link in the app directory must not lead into logs/, build/... or out of the app
        } catch (java.io.IOException e) {
            throw new ErrnoException(Libc.EXDEV, "open preopen " + p.name(), e.getMessage()); // a way out
        }
        int app = Libc.openat(Libc.AT_FDCWD, appDir.toString(), DIR_FLAGS, 0);
        if (app < 0) {
            throw new ErrnoException(-app, "open the app directory " + appDir);
        }
        try {
            int fd = resolver().open(app, p.path(), DIR_FLAGS, 0);
            if (fd < 0) {
                throw new ErrnoException(-fd, "open preopen " + p.name() + " (" + appDir.resolve(p.path()) + ")");
            }
            dirs.put(p.name(), fd);
            return fd;
        } finally {
            Libc.close(app);
        }
    }

    /** One reply's worth of native memory, allocated on first use and freed with this object. */
    private MemorySegment scratch() {
        if (scratch == null) {
            scratch = Arena.ofAuto().allocate(Abi.MAX_FRAME_BYTES);
        }
        return scratch;
    }

    /** Closes the preopens' directory descriptors; files already open stay usable. */
    @Override
    public void close() {
        dirs.values().forEach(Libc::close);
        dirs.clear();
    }
}
