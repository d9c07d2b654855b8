package io.ukernel.app;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ukernel.platform.process.ProcessPlatform.Sandbox;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The sandbox decision every platform (run, host, microVM guest, OCI container) takes from here. */
class AppKernelTest {
    private static Manifest parse(String text) throws Exception {
        return ManifestParser.parse(Path.of("ukernel.toml"), "name = \"x\"\n" + text);
    }

    @Test
    void strictByDefault_withTheManifestsNamespaces() throws Exception {
        assertEquals(new Sandbox(true, null, "auto"), AppKernel.sandbox(parse(""), false));
        assertEquals(new Sandbox(true, null, "on"), AppKernel.sandbox(parse("[sandbox]\nnamespaces = \"on\"\n"),
                false));
    }

    @Test
    void off_saysWhoTurnedItOff() throws Exception {
        assertEquals(Sandbox.off("[sandbox] mode = \"off\" in ukernel.toml"),
                AppKernel.sandbox(parse("[sandbox]\nmode = \"off\"\n"), false));
        assertEquals(Sandbox.off("--insecure-no-sandbox"), AppKernel.sandbox(parse(""), true));
        assertEquals(Sandbox.off("--insecure-no-sandbox"),
                AppKernel.sandbox(parse("[sandbox]\nmode = \"off\"\n"), true));
    }
}
