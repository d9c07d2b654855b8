package io.ukernel.kernel.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ukernel.abi.OpenFlag;
import io.ukernel.kernel.policy.Policy.Preopen;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The no-escape contract of §10, run through both mechanisms: openat2 (when the host has it) and the walk. The
 * callers' own refusals ({@code ..} in the path, absolute paths) are bypassed here on purpose: the resolver must
 * hold by itself.
 */
class ResolverTest {
    private static final long R = OpenFlag.READ.bit();
    private static final long RW = R | OpenFlag.WRITE.bit();
    private static final long CREATE = RW | OpenFlag.CREATE.bit();

    @TempDir
    Path tmp;

    static Stream<String> mechanisms() {
        return Stream.of("openat2", "walk");
    }

    private Preopens preopens(String mechanism) throws IOException {
        Resolver r = mechanism.equals("walk") ? Resolver.walk() : Resolver.host();
        assumeTrue(r.mechanism().equals(mechanism), "this host has no openat2");
        Path app = tmp.resolve("app");
        Path data = Files.createDirectories(app.resolve("data"));
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("secret.txt"), "secret");
        Files.writeString(app.resolve("secret.txt"), "app secret");
        Files.writeString(data.resolve("a.txt"), "hello");
        Files.createDirectories(data.resolve("sub"));
        Files.writeString(data.resolve("sub/b.txt"), "bee");
        link(data, "in", "sub/b.txt");
        link(data, "indir", "sub");
        link(data, "back", "sub/../a.txt");
        link(data, "up", "..");
        link(data, "passwd", "/etc/passwd");
        link(data, "absin", data.resolve("a.txt").toString());
        link(data, "outdir", "../../outside");
        link(data, "sneaky", "sub/../../secret.txt");
        link(data, "loop1", "loop2");
        link(data, "loop2", "loop1");
        link(data, "newin", "sub/new.txt");
        link(data, "newout", "../../outside/created.txt");
        return new Preopens(app, Map.of("data", new Preopen("data", "data", true)), r);
    }

    private static void link(Path dir, String name, String target) throws IOException {
        Files.createSymbolicLink(dir.resolve(name), Path.of(target));
    }

    private static String readAll(OpenFile f) throws ErrnoException {
        try {
            return new String(f.read(1 << 16), StandardCharsets.UTF_8);
        } finally {
            f.close();
        }
    }

    private static int errno(Preopens p, String rel, long flags) {
        ErrnoException e = assertThrows(ErrnoException.class, () -> p.open(p.get("data").orElseThrow(), rel, flags).close());
        return e.errno();
    }

    private static OpenFile open(Preopens p, String rel, long flags) throws ErrnoException {
        return p.open(p.get("data").orElseThrow(), rel, flags);
    }

    @ParameterizedTest
    @MethodSource("mechanisms")
    void open_plainAndRelativeLinksInside_areFollowed(String mechanism) throws Exception {
        Preopens p = preopens(mechanism);
        assertEquals("hello", readAll(open(p, "a.txt", R)));
        assertEquals("bee", readAll(open(p, "sub//./b.txt", R)));
        assertEquals("bee", readAll(open(p, "in", R)));
        assertEquals("bee", readAll(open(p, "indir/b.txt", R)));
        assertEquals("hello", readAll(open(p, "back", R)), "a link may use .. as long as it stays inside");
    }

    @ParameterizedTest
    @MethodSource("mechanisms")
    void open_escapes_areExdev(String mechanism) throws Exception {
        Preopens p = preopens(mechanism);
        assertEquals(Libc.EXDEV, errno(p, "../secret.txt", R));
        assertEquals(Libc.EXDEV, errno(p, "sub/../../secret.txt", R));
        assertEquals(Libc.EXDEV, errno(p, "passwd", R), "absolute link out");
        assertEquals(Libc.EXDEV, errno(p, "absin", R), "absolute link, even pointing inside");
        assertEquals(Libc.EXDEV, errno(p, "up/secret.txt", R), "link to ..");
        assertEquals(Libc.EXDEV, errno(p, "up", R));
        assertEquals(Libc.EXDEV, errno(p, "outdir/secret.txt", R), "directory link out as a middle component");
        assertEquals(Libc.EXDEV, errno(p, "sneaky", R), "relative link climbing out");
    }

    @ParameterizedTest
    @MethodSource("mechanisms")
    void open_createThroughLinks_staysInside(String mechanism) throws Exception {
        Preopens p = preopens(mechanism);
        assertEquals(Libc.EXDEV, errno(p, "newout", CREATE));
        assertFalse(Files.exists(tmp.resolve("outside/created.txt")), "nothing created outside");
        open(p, "newin", CREATE).close();
        assertTrue(Files.isRegularFile(tmp.resolve("app/data/sub/new.txt")));
        assertEquals(Libc.EEXIST, errno(p, "in", CREATE | OpenFlag.EXCLUSIVE.bit()), "EXCLUSIVE never follows");
    }

    @ParameterizedTest
    @MethodSource("mechanisms")
    void open_failures_reportTheHostErrno(String mechanism) throws Exception {
        Preopens p = preopens(mechanism);
        assertEquals(Libc.ELOOP, errno(p, "loop1", R));
        assertEquals(Libc.ENOENT, errno(p, "missing.txt", R));
        assertEquals(Libc.ENOENT, errno(p, "nodir/x.txt", CREATE));
        assertEquals(Libc.ENOTDIR, errno(p, "a.txt/x", R));
        assertEquals(Libc.EISDIR, errno(p, "sub", RW));
        assertEquals(Libc.EEXIST, errno(p, "a.txt", CREATE | OpenFlag.EXCLUSIVE.bit()));
        open(p, ".", R).close(); // the preopen itself, for io_stat
    }

    @ParameterizedTest
    @MethodSource("mechanisms")
    void preopen_leadingOutsideTheApp_isRefused(String mechanism) throws Exception {
        preopens(mechanism);
        Path app = tmp.resolve("app");
        link(app, "escape", "../outside");
        Resolver r = mechanism.equals("walk") ? Resolver.walk() : Resolver.host();
        Preopens p = new Preopens(app, Map.of("x", new Preopen("x", "escape", false),
                "gone", new Preopen("gone", "gone", false)), r);
        ErrnoException out = assertThrows(ErrnoException.class, () -> p.open(p.get("x").orElseThrow(), "secret.txt", R));
        assertEquals(Libc.EXDEV, out.errno());
        ErrnoException gone = assertThrows(ErrnoException.class, () -> p.open(p.get("gone").orElseThrow(), "a", R));
        assertEquals(Libc.ENOENT, gone.errno());
        Files.createDirectory(app.resolve("gone"));
        Files.writeString(app.resolve("gone/a"), "late");
        assertEquals("late", readAll(p.open(p.get("gone").orElseThrow(), "a", R)), "a failed preopen is retried");
        p.close();
    }

    @Test
    void escape_refusesAbsoluteAndDotDot_bySpelling() {
        assertEquals("an absolute path", Preopens.escape("/etc/passwd"));
        assertEquals("a \"..\" component", Preopens.escape("a/../b"));
        assertEquals("a \"..\" component", Preopens.escape(".."));
        assertNull(Preopens.escape("a/..b/c.."));
        assertNull(Preopens.escape("."));
    }

    @Test
    void hostFlags_mapEveryOpenFlag() {
        assertEquals(Libc.O_RDONLY, Preopens.hostFlags(R) & 3);
        assertEquals(Libc.O_WRONLY, Preopens.hostFlags(OpenFlag.WRITE.bit()) & 3);
        assertEquals(Libc.O_RDWR, Preopens.hostFlags(RW) & 3);
        int all = Preopens.hostFlags(OpenFlag.ALL_MASK);
        int expected = Libc.O_CREAT | Libc.O_TRUNC | Libc.O_APPEND | Libc.O_EXCL | Libc.O_CLOEXEC | Libc.O_NONBLOCK
                | Libc.O_NOCTTY;
        assertEquals(expected, all & expected);
    }
}
