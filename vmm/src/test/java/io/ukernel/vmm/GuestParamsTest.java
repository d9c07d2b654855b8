package io.ukernel.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class GuestParamsTest {
    @Test
    void toCmdline_parse_roundTrips_envWithSpacesAndEquals() {
        GuestParams p = new GuestParams(Map.of("GREETING", "hello world", "EQ", "a=b", "EMPTY", ""), 2500, "json",
                true, Optional.of(NetConfig.QEMU_USER), GuestParams.Halt.REBOOT, true);
        String cmdline = "console=ttyS0 quiet " + p.toCmdline() + " other.param=1";
        assertFalse(p.toCmdline().contains(" world"), "the environment is encoded: one word");
        assertEquals(p, GuestParams.parse(cmdline));
    }

    @Test
    void parse_ignoresEverythingElse_andDefaults() {
        assertEquals(GuestParams.defaults(), GuestParams.parse("console=ttyS0 panic=-1 ukernel.unknown=3 ukernel"));
    }

    @Test
    void exitLine_parsesBack() {
        assertEquals(Optional.of(143), GuestParams.parseExitLine(GuestParams.exitLine(143) + "\r"));
        assertEquals(Optional.empty(), GuestParams.parseExitLine("[ 1.0] main#1 OUT ukernel: app exited with status 3"));
        assertEquals(Optional.empty(), GuestParams.parseExitLine("ukernel: app exited with status x"));
    }

    @Test
    void bootArgs_haveTheConsole_andRefuseATooLongCommandLine() {
        String q = BootArgs.qemu(GuestParams.defaults(), 2596120);
        assertTrue(q.startsWith("console=ttyS0 ") && q.contains("panic=-1") && q.contains("tsc_early_khz=2596120"), q);
        assertTrue(BootArgs.firecracker(GuestParams.defaults()).contains("ukernel.halt=reboot"));
        GuestParams big = new GuestParams(Map.of("BIG", "x".repeat(2000)), 1, "text", false, Optional.empty(),
                GuestParams.Halt.POWEROFF, false);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BootArgs.firecracker(big)).getMessage()
                .contains("too large to pass at boot"));
        assertFalse(BootArgs.qemu(big, 0).contains("xxxx"), "QEMU's environment is not on the command line");
    }

    @Test
    void qemuBootArgs_carryNoEnvironment_onlyTheFwCfgMarker() {
        GuestParams p = new GuestParams(Map.of("API_TOKEN", "s3cret-token", "DB", "postgres://u:pw@h/db"), 2500,
                "text", false, Optional.empty(), GuestParams.Halt.POWEROFF, false);
        String q = BootArgs.qemu(p, 0);
        String inline = p.toCmdline();
        String b64 = inline.substring(inline.indexOf("ukernel.env=") + 12).split(" ")[0];
        for (String secret : List.of("s3cret-token", "API_TOKEN", "pw@h", b64)) {
            assertFalse(q.contains(secret), secret + " in " + q);
        }
        assertTrue(q.contains(" ukernel.env=fw_cfg "), q);
        assertTrue(GuestParams.envInFwCfg(q));
        assertFalse(GuestParams.envInFwCfg(BootArgs.firecracker(p)));
        assertEquals(Map.of(), GuestParams.parse(q).env(), "the guest reads it from fw_cfg");
        assertEquals(p, GuestParams.parse(q).withEnv(GuestParams.decodeEnvBlob(p.envBlob())));
    }

    @Test
    void netConfig_andPortForward_parse() {
        NetConfig n = NetConfig.parse("172.16.0.2/30,172.16.0.1");
        assertEquals("172.16.0.2/30,172.16.0.1", n.toString());
        assertEquals(-4, n.netmask()[3]);
        assertThrows(IllegalArgumentException.class, () -> NetConfig.parse("10.0.2.15,10.0.2.2"));
        assertThrows(IllegalArgumentException.class, () -> NetConfig.parse("300.1.1.1/24,10.0.2.2"));
        assertEquals(new PortForward(8080, 80), PortForward.parse("8080:80"));
        assertEquals(new PortForward(7, 7), PortForward.parse("7"));
        assertThrows(IllegalArgumentException.class, () -> PortForward.parse("http"));
        assertThrows(IllegalArgumentException.class, () -> PortForward.parse("0:80"));
    }
}
