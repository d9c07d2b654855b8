package io.ukernel.vmm.image;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ukernel.app.Manifest;
import io.ukernel.app.ManifestParser;
import io.ukernel.vmm.k8s.KubernetesManifests;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The image's ExposedPorts and the Kubernetes container ports from [caps.net] bind: UDP patterns are PORT/udp. */
class ExposedPortsTest {
    static Manifest manifest(String bind) throws Exception {
        return ManifestParser.parse(Path.of("ukernel.toml"), "name = \"p\"\n[caps]\ngrant = [\"NET\"]\n[caps.net]\n"
                + "bind = [" + bind + "]\n");
    }

    @Test
    void tcpAndUdpBinds_areExposedWithTheirProtocol_wildcardsAreNot() throws Exception {
        Manifest m = manifest("\"0.0.0.0:8080\", \"udp:0.0.0.0:5353\", \"udp:0.0.0.0:*\", \"127.0.0.1:0\"");
        assertEquals(List.of("8080/tcp", "5353/udp"), OciPacker.exposedPorts(m));
        assertEquals(List.of(8080), KubernetesManifests.ports(m, List.of()), "the Service and the probes are TCP");
    }
}
