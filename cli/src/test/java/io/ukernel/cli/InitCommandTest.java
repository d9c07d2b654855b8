package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.app.ManifestParser;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InitCommandTest {
    @TempDir
    Path tmp;

    @Test
    void init_createsProjectAndSaysWhatNext() throws Exception {
        Path dir = tmp.resolve("demo");
        CliTesting.Run r = CliTesting.run(new InitCommand(), "demo", "--dir", dir.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("Created app \"demo\""), r.out());
        for (String f : new String[] {"ukernel.toml", "src/main.py", "env/ukernel.env", ".gitignore"}) {
            assertTrue(r.out().contains(f), r.out());
            assertTrue(Files.isRegularFile(dir.resolve(f)), f);
        }
        assertTrue(r.out().contains("cd " + dir + " && ukernel run"), r.out());
        assertEquals("demo", ManifestParser.parse(dir.resolve("ukernel.toml")).name());
    }

    @Test
    void init_invalidNameIsAUsageError() {
        CliTesting.Run r = CliTesting.run(new InitCommand(), "Demo App", "--dir", tmp.resolve("x").toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("invalid app name \"Demo App\""), r.err());
        assertFalse(Files.exists(tmp.resolve("x")));
    }

    @Test
    void init_nonEmptyDirectoryIsRefusedInOneLine() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("busy"));
        Files.writeString(dir.resolve("notes.txt"), "keep me");
        CliTesting.Run r = CliTesting.run(new InitCommand(), "busy", "--dir", dir.toString());
        assertEquals(1, r.exit());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("not empty"), r.err());
        assertEquals("keep me", Files.readString(dir.resolve("notes.txt")));
    }

    @Test
    void init_missingNameIsAUsageError() {
        assertEquals(2, CliTesting.run(new InitCommand()).exit());
    }

    @Test
    void onPath_findsAnExecutableOnlyWhereThePathSays() throws Exception {
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path exe = Files.writeString(bin.resolve("ukernel"), "#!/bin/sh\n");
        assertFalse(InitCommand.onPath("ukernel", bin.toString()), "not executable yet");
        assertTrue(exe.toFile().setExecutable(true));
        assertTrue(InitCommand.onPath("ukernel", tmp + ":" + bin));
        assertFalse(InitCommand.onPath("ukernel", tmp.toString()));
        assertFalse(InitCommand.onPath("ukernel", null));
    }

    @Test
    void help_hasExamples() {
        CliTesting.Run r = CliTesting.run(new InitCommand(), "--help");
        assertEquals(0, r.exit());
        assertTrue(r.out().contains("Examples:"), r.out());
        assertTrue(r.out().contains("ukernel init demo"), r.out());
    }
}
