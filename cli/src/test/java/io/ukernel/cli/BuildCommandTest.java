package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.app.ProjectTemplate;
import io.ukernel.app.bundle.Bundle;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BuildCommandTest {
    @TempDir
    Path tmp;
    Path app;

    @BeforeAll
    static void adapter() {
        CliTesting.useRepoAdapter();
    }

    @BeforeEach
    void setUp() throws Exception {
        app = tmp.resolve("demo");
        ProjectTemplate.create(app, "demo");
    }

    @Test
    void build_thenUpToDate() {
        CliTesting.Run first = CliTesting.run(new BuildCommand(), app.toString());
        assertEquals(0, first.exit(), first.err());
        assertTrue(first.out().startsWith("Built demo: "), first.out());
        assertTrue(first.out().contains(" files, ") && first.out().contains(" bytes, sha256 "), first.out());
        assertTrue(first.out().contains("entry:   src/main.py:main"), first.out());
        assertTrue(Files.isRegularFile(Bundle.path(app)));

        CliTesting.Run second = CliTesting.run(new BuildCommand(), app.toString());
        assertEquals(0, second.exit(), second.err());
        assertTrue(second.out().startsWith("Up to date: demo: "), second.out());

        CliTesting.Run forced = CliTesting.run(new BuildCommand(), app.toString(), "--force");
        assertTrue(forced.out().startsWith("Built demo: "), forced.out());
    }

    @Test
    void buildIfStale_printsOnlyWhenItBuilt() throws Exception {
        StringWriter w = new StringWriter();
        BuildCommand.Result r = BuildCommand.buildIfStale(app, new PrintWriter(w, true));
        assertFalse(r.upToDate());
        assertTrue(r.runtime().executable().isAbsolute());
        assertEquals("demo", r.manifest().name());
        assertTrue(w.toString().startsWith("ukernel: built demo: "), w.toString());

        StringWriter again = new StringWriter();
        assertTrue(BuildCommand.buildIfStale(app, new PrintWriter(again, true)).upToDate());
        assertEquals("", again.toString());
    }

    @Test
    void build_manifestErrorIsOneLineWithFileAndLine() throws Exception {
        Path toml = app.resolve("ukernel.toml");
        Files.writeString(toml, Files.readString(toml).replace("grant = [", "grnat = ["));
        CliTesting.Run r = CliTesting.run(new BuildCommand(), app.toString());
        assertEquals(1, r.exit());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("ukernel.toml:") && r.err().contains("caps.grnat: unknown key (did you mean \"grant\"?)"),
                r.err());
    }

    @Test
    void build_notAnAppDirectory() {
        CliTesting.Run r = CliTesting.run(new BuildCommand(), tmp.toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("has no ukernel.toml"), r.err());
    }

    @Test
    void help_hasExamples() {
        CliTesting.Run r = CliTesting.run(new BuildCommand(), "--help");
        assertEquals(0, r.exit());
        assertTrue(r.out().contains("Examples:"), r.out());
    }
}
