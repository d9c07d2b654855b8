package io.ukernel.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.Cap;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProjectTemplateTest {
    @TempDir
    Path tmp;

    @Test
    void create_writesProjectThatParses() throws Exception {
        Path dir = tmp.resolve("demo");
        List<Path> files = ProjectTemplate.create(dir, "demo");
        assertEquals(List.of(Path.of("ukernel.toml"), Path.of("src/main.py"), Path.of("env/ukernel.env"),
                Path.of(".gitignore")), files);
        Manifest m = ManifestParser.parse(dir.resolve("ukernel.toml"));
        assertEquals("demo", m.name());
        assertEquals("src/main.py", m.entry());
        assertEquals(Cap.LOG.bit() | Cap.TIME.bit(), m.caps());
        assertEquals(Map.of(), EnvFile.parse(dir.resolve("env/ukernel.env")));
        assertEquals("build/\ndist/\nlogs/\n", Files.readString(dir.resolve(".gitignore")));
        String main = Files.readString(dir.resolve("src/main.py"));
        assertTrue(main.contains("async def main():"));
        assertTrue(main.contains("ukernel.cap_acquire(ukernel.Cap.LOG, ukernel.Cap.TIME)"));
        assertTrue(main.contains("await asyncio.sleep(1)"));
    }

    @Test
    void create_everyCommentedSectionParsesWhenUncommented() throws Exception {
        String text = ProjectTemplate.render("ukernel.toml", "demo");
        StringBuilder b = new StringBuilder();
        for (String line : text.split("\n")) {
            // uncomment "# [section]" / "# key = value" lines, keep prose comments
            if (line.matches("# (\\[.*|[a-z_]+ = .*)")) {
                line = line.substring(2);
            }
            b.append(line).append('\n');
        }
        String full = b.toString().replace("grant = [\"LOG\", \"TIME\"]", "grant = [\"LOG\", \"TIME\", \"NET\", \"IO\", \"IPC\"]");
        Manifest m = ManifestParser.parse(Path.of("ukernel.toml"), full);
        assertEquals(1, m.tasks().size());
        assertEquals(2, m.net().connect().size());
        assertEquals(1, m.preopens().size());
        assertEquals(io.ukernel.kernel.policy.Policy.Limits.defaults(), m.limits());
    }

    @Test
    void create_intoEmptyExistingDirectory() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("empty"));
        ProjectTemplate.create(dir, "ok");
        assertTrue(Files.exists(dir.resolve("ukernel.toml")));
    }

    @Test
    void create_refusesNonEmptyDirectory() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("full"));
        Files.writeString(dir.resolve("keep.txt"), "mine");
        IOException e = assertThrows(IOException.class, () -> ProjectTemplate.create(dir, "full"));
        assertTrue(e.getMessage().contains("not empty"), e.getMessage());
        assertEquals(List.of(dir.resolve("keep.txt")), Files.list(dir).toList());
    }

    @Test
    void create_refusesBadName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ProjectTemplate.create(tmp.resolve("x"), "Bad Name"));
        assertTrue(e.getMessage().contains("invalid name"), e.getMessage());
        assertTrue(!Files.exists(tmp.resolve("x")));
    }
}
