package io.ukernel.kernel.io;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Opens a relative path beneath a directory descriptor so that nothing on the way can lead outside it: not a
 * {@code ..}, not an absolute symbolic link, not a relative one that climbs out, not a magic link — and without a
 * check-then-open race, because no step trusts a name it looked at earlier.
 *
 * <p>Two mechanisms with the same contract (§10 of docs/kernel-abi.md: a symbolic link is followed only when its
 * target is relative and stays inside; at most {@value #MAX_LINKS} links per open):
 * <ul>
 *   <li><b>openat2</b> (Linux ≥ 5.6): the host kernel resolves the whole path under
 *       {@code RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS} and answers {@code EXDEV} to any escape.</li>
 *   <li><b>walk</b>, where openat2 is missing or filtered: one component at a time from the directory with
 *       {@code O_NOFOLLOW}; a component that is a symbolic link is read with {@code readlinkat} and its target
 *       walked in its place, and {@code ..} pops a stack of descriptors this walk opened (never the host's
 *       {@code ..}), so climbing above the start is {@code EXDEV}. Limit: a directory renamed out of the tree
 *       by a host process while the walk stands in it is not detected (a worker cannot rename).</li>
 * </ul>
 * Stateless; thread-safe.
 */
final class Resolver {
    /** Most symbolic links followed in one open (Linux's own limit); more is {@code ELOOP}. */
    static final int MAX_LINKS = 40;
    private static final long RESOLVE = Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_MAGICLINKS;
    /** openat2 answers EAGAIN when a rename races with its ".." checks; it is safe to retry. */
    private static final int RETRIES = 4;
    private static final Resolver HOST = detect();

    private final boolean openat2;

    private Resolver(boolean openat2) {
        this.openat2 = openat2;
    }

    /** The best mechanism this host offers: openat2 when a probe call succeeds, otherwise the walk. */
    static Resolver host() {
        return HOST;
    }

    /** The walk, whatever the host offers (tests run the same cases through both). */
    static Resolver walk() {
        return new Resolver(false);
    }

    private static Resolver detect() {
        // ENOSYS before Linux 5.6; some seccomp profiles answer EPERM for syscalls they do not know.
        int fd = Libc.openat2(Libc.AT_FDCWD, "/", Libc.O_PATH | Libc.O_CLOEXEC, 0, 0);
        if (fd < 0) {
            return new Resolver(false);
        }
        Libc.close(fd);
        return new Resolver(true);
    }

    /** {@code openat2} or {@code walk}. */
    String mechanism() {
        return openat2 ? "openat2" : "walk";
    }

    /**
     * Opens {@code path} beneath {@code dirfd}.
     *
     * @param path  relative, {@code /}-separated; its own {@code ..} components are the caller's to refuse
     *              (here they are honoured as long as they stay beneath)
     * @param flags host {@code O_*} flags
     * @param mode  permission bits for {@code O_CREAT}
     * @return the new descriptor, or {@code -errno}: {@code -EXDEV} for an escape, {@code -ELOOP} for too many links
     */
    int open(int dirfd, String path, int flags, int mode) {
        if (!openat2) {
            return walk(dirfd, path, flags, mode);
        }
        long m = (flags & Libc.O_CREAT) != 0 ? mode : 0; // openat2 refuses a mode without O_CREAT
        int fd = -Libc.EAGAIN;
        for (int i = 0; i < RETRIES && fd == -Libc.EAGAIN; i++) {
            fd = Libc.openat2(dirfd, path, flags, m, RESOLVE);
        }
        return fd;
    }

    private static int walk(int root, String path, int flags, int mode) {
        Deque<String> pending = new ArrayDeque<>();
        prepend(pending, path);
        if (path.endsWith("/")) {
            flags |= Libc.O_DIRECTORY; // "dir/" names a directory, as the host would say
        }
        Deque<Integer> entered = new ArrayDeque<>(); // descriptors of the directories below root, innermost first
        int links = 0;
        try {
            int dir = root;
            while (!pending.isEmpty()) {
                String name = pending.removeFirst();
                if (name.equals("..")) {
                    if (entered.isEmpty()) {
                        return -Libc.EXDEV;
                    }
                    Libc.close(entered.pop());
                    dir = entered.isEmpty() ? root : entered.peek();
                    continue;
                }
                boolean last = pending.isEmpty();
                int fd = last ? Libc.openat(dir, name, flags | Libc.O_NOFOLLOW, mode)
                        : Libc.openat(dir, name, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                if (fd >= 0) {
                    if (last) {
                        return fd;
                    }
                    entered.push(fd);
                    dir = fd;
                    continue;
                }
                // It failed: if it is a symbolic link, walk its target instead (O_CREAT|O_EXCL never follows one).
                String target = fd == -Libc.EEXIST ? null : Libc.readlinkat(dir, name);
                if (target == null) {
                    return fd;
                }
                if (++links > MAX_LINKS) {
                    return -Libc.ELOOP;
                }
                if (target.startsWith("/")) {
                    return -Libc.EXDEV;
                }
                prepend(pending, target);
            }
            return Libc.openat(dir, ".", flags, mode); // the path named the start directory itself
        } finally {
            entered.forEach(Libc::close);
        }
    }

    /** Puts the components of {@code path} in front of {@code pending}, skipping empty ones and {@code .}. */
    private static void prepend(Deque<String> pending, String path) {
        String[] parts = path.split("/");
        for (int i = parts.length - 1; i >= 0; i--) {
            if (!parts[i].isEmpty() && !parts[i].equals(".")) {
                pending.addFirst(parts[i]);
            }
        }
    }
}
