package io.ukernel.vmm.firecracker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.vmm.GuestParams;
import io.ukernel.app.json.Json;
import io.ukernel.vmm.VmSpec;
import io.ukernel.vmm.firecracker.request.Actions;
import io.ukernel.vmm.firecracker.request.BootSource;
import io.ukernel.vmm.firecracker.request.Drive;
import io.ukernel.vmm.firecracker.request.Logger;
import io.ukernel.vmm.firecracker.request.MachineConfig;
import io.ukernel.vmm.firecracker.request.NetworkInterface;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The API client and the backend's configuration calls against the fake server, requests checked by the spec. */
class FirecrackerClientTest {
    @TempDir
    Path tmp;
    Path sock;
    FakeFirecracker fake;
    ByteArrayOutputStream console = new ByteArrayOutputStream();

    @BeforeEach
    void startFake() throws Exception {
        sock = tmp.resolve("api.sock");
        fake = FakeFirecracker.start(sock, new PrintStream(console, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void stopFake() throws Exception {
        fake.close();
    }

    private VmSpec spec(Optional<Path> drive) throws Exception {
        Path kernel = Files.write(tmp.resolve("vmlinux"), new byte[] {0x7f, 'E', 'L', 'F'});
        Path initrd = Files.write(tmp.resolve("app.img"), new byte[] {1});
        return new VmSpec("app", kernel, drive.isPresent() ? Optional.empty() : Optional.of(initrd), drive, 2, 256,
                List.of(), GuestParams.defaults(), tmp);
    }

    @Test
    void configure_sendsTheDocumentedCallsInOrder_andTheFakeAcceptsThemAll() throws Exception {
        Path log = Files.createFile(tmp.resolve("fc.log"));
        try (FirecrackerClient api = FirecrackerClient.connect(sock)) {
            new FirecrackerBackend(Map.of(FirecrackerBackend.ENV_TAP, "tap0"), Duration.ofSeconds(1))
                    .configure(api, spec(Optional.empty()), log);
            api.put(Actions.instanceStart());
        }
        assertEquals(List.of("PUT /logger", "PUT /machine-config", "PUT /boot-source", "PUT /network-interfaces/eth0",
                "PUT /actions"), fake.accepted(), fake.refused().toString());
        assertTrue(console.toString(StandardCharsets.UTF_8).contains("platform microvm"), "the console replays");
    }

    @Test
    void snapshotApi_theFakeEnforcesFirecrackersOrder() throws Exception {
        Path log = Files.createFile(tmp.resolve("fc.log"));
        Path state = tmp.resolve("vm.state");
        Path mem = tmp.resolve("vm.mem");
        try (FirecrackerClient api = FirecrackerClient.connect(sock)) {
            assertTrue(assertThrows(FirecrackerApiException.class, () -> api.put(io.ukernel.vmm.firecracker.request
                    .Vm.paused())).faultMessage().contains("before starting"));
            new FirecrackerBackend(Map.of(), Duration.ofSeconds(1)).configure(api, spec(Optional.empty()), log);
            // a load is only for a fresh process
            assertTrue(assertThrows(FirecrackerApiException.class, () -> api.put(
                    new io.ukernel.vmm.firecracker.request.SnapshotLoad(state.toString(), mem.toString(), true,
                            Optional.empty()))).faultMessage().contains("after configuring boot-specific resources"));
            api.put(Actions.instanceStart());
            // a snapshot is of a paused VM
            var create = new io.ukernel.vmm.firecracker.request.SnapshotCreate(state.toString(), mem.toString());
            assertTrue(assertThrows(FirecrackerApiException.class, () -> api.put(create)).faultMessage()
                    .contains("not paused"));
            api.put(io.ukernel.vmm.firecracker.request.Vm.paused());
            api.put(create);
        }
        assertTrue(Files.isRegularFile(state) && Files.isRegularFile(mem));
        assertEquals(List.of("PUT /logger", "PUT /machine-config", "PUT /boot-source", "PUT /actions", "PATCH /vm",
                "PUT /snapshot/create"), fake.accepted(), fake.refused().toString());
    }

    @Test
    void put_driveRejected_reportsFaultMessageVerbatim() throws Exception {
        fake.rejectDrives("Unable to create the block device: BackingFile(Os { code: 13, kind: PermissionDenied })");
        Path disk = Files.write(tmp.resolve("rootfs.ext4"), new byte[512]);
        try (FirecrackerClient api = FirecrackerClient.connect(sock)) {
            FirecrackerApiException e = assertThrows(FirecrackerApiException.class,
                    () -> api.put(new Drive("rootfs", disk.toString(), true, true)));
            assertEquals(400, e.status());
            assertEquals("Unable to create the block device: BackingFile(Os { code: 13, kind: PermissionDenied })",
                    e.faultMessage());
            assertTrue(e.getMessage().startsWith("Firecracker refused PUT /drives/rootfs (HTTP 400): "));
        }
    }

    @Test
    void put_missingKernel_isFirecrackersFault() throws Exception {
        try (FirecrackerClient api = FirecrackerClient.connect(sock)) {
            FirecrackerApiException e = assertThrows(FirecrackerApiException.class, () -> api.put(
                    new BootSource(tmp.resolve("nope").toString(), Optional.empty(), "console=ttyS0")));
            assertEquals("Cannot open kernel image: No such file or directory (os error 2)", e.faultMessage());
        }
    }

    @Test
    void instanceStart_beforeBootSource_isRefused_andConfigAfterStartToo() throws Exception {
        try (FirecrackerClient api = FirecrackerClient.connect(sock)) {
            assertEquals("Cannot start microvm without kernel configuration.",
                    assertThrows(FirecrackerApiException.class, () -> api.put(Actions.instanceStart())).faultMessage());
            Path kernel = Files.write(tmp.resolve("vmlinux"), new byte[] {0x7f, 'E', 'L', 'F'});
            api.put(new BootSource(kernel.toString(), Optional.empty(), "console=ttyS0"));
            api.put(Actions.instanceStart());
            assertEquals("The requested operation is not supported after starting the microVM.",
                    assertThrows(FirecrackerApiException.class, () -> api.put(new MachineConfig(1, 128)))
                            .faultMessage());
            api.put(Actions.sendCtrlAltDel());
        }
        assertTrue(fake.awaitEnd(60_000)); // a latch: ends as soon as the fake has "rebooted"
        assertTrue(console.toString(StandardCharsets.UTF_8).contains("ukernel: app exited with status 0"));
    }

    @Test
    void fake_refusesUnknownFieldsBadIdsAndUnknownPaths() throws Exception {
        try (UnixHttp http = UnixHttp.connect(sock)) {
            UnixHttp.Response r = http.send("PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":128,"
                    + "\"turbo\":true}");
            assertEquals(400, r.status());
            assertTrue(FirecrackerClient.faultMessage(r.body()).contains("unknown field turbo"), r.body());
            r = http.send("PUT", "/drives/root-fs", Json.write(new Drive("rootfs", "/x", true, true).body()));
            assertTrue(FirecrackerClient.faultMessage(r.body()).startsWith("Invalid ID"), r.body());
            r = http.send("PUT", "/reboot", "{}");
            assertEquals("Invalid request method and/or path: PUT /reboot.", FirecrackerClient.faultMessage(r.body()));
        }
    }

    @Test
    void requestRecords_matchTheirSwaggerDefinitions() throws Exception {
        SwaggerSpec s = SwaggerSpec.load();
        assertEquals(List.of(), s.validate("Logger", new Logger("/l", "Info", true).body()));
        assertEquals(List.of(), s.validate("MachineConfiguration", json(new MachineConfig(2, 512).body())));
        assertEquals(List.of(), s.validate("BootSource", new BootSource("/k", Optional.of("/i"), "a").body()));
        assertEquals(List.of(), s.validate("Drive", new Drive("rootfs", "/d", true, false).body()));
        assertEquals(List.of(), s.validate("NetworkInterface", new NetworkInterface("eth0", "tap0",
                Optional.of("06:00:AC:10:00:02")).body()));
        assertEquals(List.of(), s.validate("InstanceActionInfo", Actions.sendCtrlAltDel().body()));
        assertThrows(IllegalArgumentException.class, () -> new Drive("root-fs", "/d", true, false));
    }

    /** Through the wire: integers come back as longs. */
    private static Object json(Map<String, Object> body) {
        return Json.read(Json.write(body));
    }
}
