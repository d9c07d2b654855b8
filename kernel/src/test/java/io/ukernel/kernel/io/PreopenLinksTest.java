package io.ukernel.kernel.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.OpenFlag;
import io.ukernel.kernel.policy.Policy.Preopen;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Red team: a preopen whose path is a symbolic link the app ships ({@code data -> logs}) passes the manifest's
 * text check; resolved, it is the kernel's console log directory (or the bundle, or outside the app). Both doors
 * refuse it: {@code io_open} ({@link Preopens}) and the worker's view ({@link Preopen#resolve}, at every start;
 * python/tests/adversarial/test_redteam_preopen_links.py runs it through the real kernel).
 */
class PreopenLinksTest {
    @TempDir
    Path app;
    @TempDir
    Path outside;

    @Test
    void ioOpen_throughALinkIntoLogs_isRefused_andTheLogIsUntouched() throws Exception {
        Files.createDirectories(app.resolve("logs"));
        Files.writeString(app.resolve("logs/console.log"), "audit\n");
        Files.createSymbolicLink(app.resolve("data"), Path.of("logs"));
        Preopen data = new Preopen("data", "data", true);
        Preopens p = new Preopens(app, Map.of("data", data));
        long trunc = OpenFlag.WRITE.bit() | OpenFlag.TRUNCATE.bit();
        ErrnoException e = assertThrows(ErrnoException.class, () -> p.open(data, "console.log", trunc));
        assertEquals(Libc.EXDEV, e.errno(), e.getMessage());
        assertTrue(e.denial().contains("logs/"), e.denial());
        assertEquals("audit\n", Files.readString(app.resolve("logs/console.log")));
    }

    @Test
    void resolve_refusesLinksIntoTheKernelsDirectoriesAndOutOfTheApp() throws Exception {
        for (String kept : new String[] {"logs", "build", "dist", "adapter"}) {
            Files.createDirectories(app.resolve(kept + "/sub"));
            Files.createSymbolicLink(app.resolve("to-" + kept), Path.of(kept, "sub"));
            IOException e = assertThrows(IOException.class,
                    () -> new Preopen("p", "to-" + kept, false).resolve(app), kept);
            assertTrue(e.getMessage().contains("preopen p") && e.getMessage().contains(kept + "/"), e.getMessage());
        }
        Files.createSymbolicLink(app.resolve("out"), outside);
        IOException e = assertThrows(IOException.class, () -> new Preopen("out", "out", true).resolve(app));
        assertTrue(e.getMessage().contains("outside the app directory"), e.getMessage());
        Files.createSymbolicLink(app.resolve("self"), Path.of("."));
        assertThrows(IOException.class, () -> new Preopen("self", "self", true).resolve(app));
    }

    /** Red team: a root kernel writing a set-ID file keeps the bit (CAP_FSETID): never opened for writing. */
    @Test
    void setIdFile_isNeverOpenedForWriting_andNotTruncated_plainFilesStillAre() throws Exception {
        Files.createDirectories(app.resolve("d"));
        Path suid = app.resolve("d/suid");
        Files.writeString(suid, "program");
        Files.setAttribute(suid, "unix:mode", 04755);
        Files.writeString(app.resolve("d/plain"), "old contents");
        Preopen d = new Preopen("d", "d", true);
        Preopens p = new Preopens(app, Map.of("d", d));
        long trunc = OpenFlag.WRITE.bit() | OpenFlag.TRUNCATE.bit();
        ErrnoException e = assertThrows(ErrnoException.class, () -> p.open(d, "suid", trunc));
        assertEquals(Libc.EPERM, e.errno());
        assertTrue(e.denial().contains("set-user-ID"), e.denial());
        assertEquals("program", Files.readString(suid));
        p.open(d, "suid", OpenFlag.READ.bit()).close(); // reading it is fine
        OpenFile f = p.open(d, "plain", trunc);
        assertEquals(0, f.stat().size());
        f.write("new".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        f.close();
        assertEquals("new", Files.readString(app.resolve("d/plain")));
    }

    @Test
    void resolve_keepsLinksBetweenTheAppsOwnDirectories() throws Exception {
        Files.createDirectories(app.resolve("var/data"));
        Files.createSymbolicLink(app.resolve("data"), Path.of("var", "data"));
        assertEquals(app.toRealPath().resolve("var/data"), new Preopen("data", "data", true).resolve(app));
        Path missing = new Preopen("m", "not/yet", true).resolve(app);
        assertEquals(app.toAbsolutePath().resolve("not/yet"), missing);
        assertFalse(Files.exists(missing));
    }
}
