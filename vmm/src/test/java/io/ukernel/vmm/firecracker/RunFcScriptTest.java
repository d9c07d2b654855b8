package io.ukernel.vmm.firecracker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.vmm.GuestParams;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code scripts/run_fc.sh} with the fake standing in for Firecracker in {@code --config-file} mode: the packed
 * config file's sections are checked against the swagger file like API calls, the console reaches the log, and
 * the script exits with the guest's status.
 */
class RunFcScriptTest {
    @TempDir
    Path tmp;

    private Process script(Path app, String extraEnv) throws Exception {
        Path repo = Path.of(System.getProperty("ukernel.repo", "."));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path fake = tmp.resolve("firecracker");
        Files.writeString(fake, "#!/bin/sh\n" + extraEnv + " exec '" + java + "' -XX:TieredStopAtLevel=1 -cp '"
                + System.getProperty("java.class.path") + "' -Dukernel.repo='" + repo + "' "
                + FakeFirecracker.class.getName() + " \"$@\"\n", StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwxr-xr-x"));
        ProcessBuilder pb = new ProcessBuilder(repo.resolve("scripts/run_fc.sh").toString(), app.toString())
                .redirectErrorStream(true);
        pb.environment().put("UKERNEL_FIRECRACKER", fake.toString());
        return pb.start();
    }

    private Path packedApp() throws Exception {
        Path app = Files.createDirectories(tmp.resolve("demo/dist"));
        app = app.getParent();
        Files.writeString(app.resolve("ukernel.toml"), "name = \"demo\"\nentry = \"src/main.py\"\n");
        Path kernel = Files.write(app.resolve("dist/demo.vmlinux"), new byte[] {0x7f, 'E', 'L', 'F'});
        Path img = Files.write(app.resolve("dist/demo.img"), new byte[] {1});
        FirecrackerConfigFile.write(app.resolve("dist/demo.firecracker.json"), kernel, img, 1, 256,
                GuestParams.defaults());
        return app;
    }

    @Test
    void runFc_bootsTheConfigFile_logsTheConsole_exitsWithTheAppsStatus() throws Exception {
        Path app = packedApp();
        Process p = script(app, "FAKE_FC_AUTOSTOP=1");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        List<String> log = Files.readAllLines(app.resolve("logs/console.log"));
        assertTrue(log.stream().anyMatch(l -> l.contains("platform microvm")), log.toString());
        assertTrue(log.contains("ukernel: app exited with status 0"), log.toString());
    }

    @Test
    void runFc_missingImage_orNoBinary_isAClearError() throws Exception {
        Path app = packedApp();
        Files.delete(app.resolve("dist/demo.img"));
        Process p = script(app, "");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(1, p.exitValue(), out);
        assertTrue(out.contains("initrd_path") && out.contains("does not exist"), out);
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("ukernel.repo", "."))
                .resolve("scripts/run_fc.sh").toString(), app.toString()).redirectErrorStream(true);
        pb.environment().put("PATH", "/usr/bin:/bin");
        pb.environment().remove("UKERNEL_FIRECRACKER");
        Process q = pb.start();
        String msg = new String(q.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(q.waitFor(30, TimeUnit.SECONDS));
        assertTrue(msg.contains("no Firecracker binary"), msg);
    }
}
