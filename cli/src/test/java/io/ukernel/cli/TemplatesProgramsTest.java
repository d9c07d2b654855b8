package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.ukernel.platform.spi.WorkerListener;
import io.ukernel.platform.spi.WorkerSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A task that runs programs ([caps] subprocess) is never forked from a warm template: it starts cold, untried. */
class TemplatesProgramsTest {
    @Test
    void aTaskWithProgramsStartsColdWithoutATemplate(@TempDir Path dir) throws Exception {
        Path bundle = dir.resolve("bundle");
        Files.createDirectories(bundle);
        Files.writeString(bundle.resolve(".bundle.sha256"), "ab12\n"); // an extracted bundle of the host's
        List<String> said = new ArrayList<>();
        WorkerListener listener = new WorkerListener() {
            @Override
            public void output(String line, boolean stderr) {
                said.add(line);
            }

            @Override
            public void exited(int status) {
                said.add("exited " + status);
            }
        };
        WorkerSpec spec = new WorkerSpec(1, "main", "src/main.py", bundle, dir.resolve("abi.sock"), "ab12", Map.of(),
                List.of(), WorkerSpec.DEFAULT_TMP_BYTES, List.of(Path.of("/bin/sh")));
        try (Templates t = new Templates(dir.resolve("templates"))) {
            // a command that could never become a template: trying it would say "warm start unavailable"
            assertNull(t.start(spec, List.of("/bin/false"), Map.of("UKERNEL_SUBPROCESS", "/bin/sh"), listener));
        }
        assertEquals(List.of(), said);
    }
}
