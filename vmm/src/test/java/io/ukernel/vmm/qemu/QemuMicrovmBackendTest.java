package io.ukernel.vmm.qemu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.vmm.GuestParams;
import io.ukernel.vmm.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QemuMicrovmBackendTest {
    static VmSpec spec(Path runDir, Map<String, String> env) {
        GuestParams p = new GuestParams(env, 5000, "text", false, Optional.empty(), GuestParams.Halt.POWEROFF,
                false);
        return new VmSpec("app", Path.of("/boot/vmlinuz"), Optional.of(Path.of("/dist/app.img")), Optional.empty(),
                1, 512, List.of(), p, runDir);
    }

    @Test
    void envFile_isOwnerOnly_andTheCommandLineNamesItInsteadOfTheValues(@TempDir Path tmp) throws Exception {
        VmSpec spec = spec(tmp, Map.of("API_TOKEN", "s3cret-token-value"));
        Path f = QemuMicrovmBackend.writeEnvFile(spec).orElseThrow();
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
        assertArrayEquals(spec.params().envBlob(), Files.readAllBytes(f));
        List<String> cmd = QemuMicrovmBackend.command(Path.of("/usr/bin/qemu-system-x86_64"), spec,
                new Accelerator("tcg", "test"), tmp.resolve("qmp.sock"), Optional.of(f));
        String line = String.join(" ", cmd);
        assertFalse(line.contains("s3cret-token-value") || line.contains("API_TOKEN"), line);
        int i = cmd.indexOf("-fw_cfg");
        assertTrue(i > 0, line);
        assertEquals("name=opt/io.ukernel/env,file=" + f, cmd.get(i + 1));
        assertTrue(line.contains("ukernel.env=fw_cfg"), line);
    }

    @Test
    void noEnvironment_noFileAndNoFwCfg(@TempDir Path tmp) throws Exception {
        VmSpec spec = spec(tmp, Map.of());
        assertEquals(Optional.empty(), QemuMicrovmBackend.writeEnvFile(spec));
        List<String> cmd = QemuMicrovmBackend.command(Path.of("/usr/bin/qemu-system-x86_64"), spec,
                new Accelerator("tcg", "test"), tmp.resolve("qmp.sock"), Optional.empty());
        assertFalse(cmd.contains("-fw_cfg"), cmd.toString());
        assertFalse(String.join(" ", cmd).contains("ukernel.env="), cmd.toString());
    }
}
