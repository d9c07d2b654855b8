package io.ukernel.app;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ukernel.abi.Cap;
import io.ukernel.kernel.policy.Policy;
import io.ukernel.kernel.policy.PolicyHints;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ManifestPolicyTest {
    private static final String TOML = """
            name = "shop"
            entry = "src/app.py:main"
            python = "3.12"

            [caps]
            grant = ["LOG", "NET", "IO"]
            subprocess = ["python", "/bin/sh"]

            [caps.net]
            connect = ["db.internal:5432"]
            bind = ["0.0.0.0:8080"]

            [caps.io]
            data = { path = "data", mode = "rw" }

            [limits]
            tasks = 4
            handles = 100

            [restart]
            policy = "on-failure"
            max_retries = 3

            [[task]]
            name = "worker"
            entry = "src/worker.py"
            caps = ["LOG"]
            start = "spawn"
            """;

    @Test
    void theKernelGetsEveryFieldItEnforces_fromTheManifest() throws Exception {
        Manifest m = ManifestParser.parse(Path.of("ukernel.toml"), TOML);
        Policy p = ManifestPolicy.of(m);
        assertEquals("shop", p.name());
        assertEquals("src/app.py:main", p.entry());
        assertEquals("3.12", p.python());
        assertEquals(Cap.LOG.bit() | Cap.NET.bit() | Cap.IO.bit(), p.caps());
        assertEquals(List.of("db.internal:5432"), p.net().connect());
        assertEquals(List.of("0.0.0.0:8080"), p.net().bind());
        assertEquals(new Policy.Preopen("data", "data", true), p.preopens().get("data"));
        assertEquals(new Policy.Limits(4, 100, m.limits().channelBytes(), m.limits().socketBytes(),
                m.limits().queuedBytes(), m.limits().netBytes(), m.limits().tmpBytes()), p.limits());
        assertEquals(Policy.RestartPolicy.Mode.ON_FAILURE, p.restart().mode());
        assertEquals(m.restart().maxRetries(), p.restart().maxRetries());
        assertEquals(m.restart().mode().text(), p.restart().mode().text());
        Policy.TaskSpec w = p.task("worker").orElseThrow();
        assertEquals(new Policy.TaskSpec("worker", "src/worker.py", Cap.LOG.bit(), false,
                new Policy.RestartPolicy(Policy.RestartPolicy.Mode.NO, m.tasks().get(0).restart().maxRetries(),
                        m.tasks().get(0).restart().backoffMs(), m.tasks().get(0).restart().backoffMaxMs())), w);
        assertEquals(List.of("python", "/bin/sh"), p.programs().listed());
        assertEquals(List.of(Path.of("python"), Path.of("/bin/sh")), p.programs().resolve("/nonexistent"));
        assertEquals(ManifestPolicy.HINTS, p.hints());
    }

    /** The remedies the kernel's refusals carry, as users read them (the kernel composes the rest). */
    @Test
    void refusals_sayWhatToChangeInUkernelToml() {
        PolicyHints h = ManifestPolicy.HINTS;
        assertEquals("grant it in ukernel.toml [caps]", h.grantForCall());
        assertEquals("grant it in ukernel.toml [caps] grant", h.grantForAcquire());
        assertEquals("raise it in ukernel.toml [limits]", h.raiseLimit("limits.handles"));
        assertEquals("no [[task]] named \"nope\" in ukernel.toml", h.noTask("nope"));
        assertEquals("ukernel.toml [caps.io] has [a, data]", h.preopens(Set.of("data", "a")));
        assertEquals("add \"127.0.0.1:0\" to [caps.net] bind in ukernel.toml", h.allowAddress("bind", "127.0.0.1:0"));
    }
}
