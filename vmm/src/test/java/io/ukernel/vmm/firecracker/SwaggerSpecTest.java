package io.ukernel.vmm.firecracker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.app.json.Json;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The swagger reader and validator the fake server relies on, checked against the real file. */
class SwaggerSpecTest {
    static SwaggerSpec spec;

    @BeforeAll
    static void load() throws Exception {
        spec = SwaggerSpec.load();
    }

    @Test
    void load_readsPathsAndDefinitions() {
        assertTrue(spec.paths().containsAll(List.of("/actions", "/boot-source", "/drives/{drive_id}", "/logger",
                "/machine-config", "/network-interfaces/{iface_id}")), spec.paths().toString());
        assertEquals(List.of("kernel_image_path"), spec.definition("BootSource").get("required"));
        assertEquals(List.of("mem_size_mib", "vcpu_count"), spec.definition("MachineConfiguration").get("required"));
    }

    @Test
    void find_matchesTemplatesAndNamesTheBody() {
        SwaggerSpec.Operation op = spec.find("PUT", "/drives/rootfs").orElseThrow();
        assertEquals("/drives/{drive_id}", op.template());
        assertEquals("Drive", op.body());
        assertEquals(Map.of("drive_id", "rootfs"), op.pathParams());
        assertEquals("InstanceActionInfo", spec.find("PUT", "/actions").orElseThrow().body());
        assertTrue(spec.find("DELETE", "/actions").isEmpty());
        assertTrue(spec.find("PUT", "/no-such-thing").isEmpty());
    }

    @Test
    void validate_acceptsWhatTheRequestRecordsSend() {
        assertEquals(List.of(), spec.validate("MachineConfiguration", Json.read("{\"vcpu_count\":2,\"mem_size_mib\":512,"
                + "\"smt\":false}")));
        assertEquals(List.of(), spec.validate("InstanceActionInfo", Json.read("{\"action_type\":\"SendCtrlAltDel\"}")));
        assertEquals(List.of(), spec.validate("Logger", Json.read("{\"log_path\":\"/x\",\"level\":\"Info\","
                + "\"show_level\":true,\"show_log_origin\":false}")));
    }

    @Test
    void validate_reportsUnknownMissingWrongAndOutOfRange() {
        assertEquals(List.of("BootSource: missing required field kernel_image_path", "BootSource: unknown field kernel"),
                spec.validate("BootSource", Json.read("{\"kernel\":\"/k\"}")));
        assertEquals(List.of("InstanceActionInfo.action_type: \"Reboot\" is not one of [FlushMetrics, InstanceStart, "
                + "SendCtrlAltDel]"), spec.validate("InstanceActionInfo", Json.read("{\"action_type\":\"Reboot\"}")));
        assertEquals(List.of("MachineConfiguration.vcpu_count: 33 is above the maximum 32"),
                spec.validate("MachineConfiguration", Json.read("{\"vcpu_count\":33,\"mem_size_mib\":128}")));
        assertEquals(List.of("Drive.is_read_only: expected a boolean"), spec.validate("Drive",
                Json.read("{\"drive_id\":\"a\",\"is_root_device\":true,\"is_read_only\":\"yes\"}")));
    }
}
