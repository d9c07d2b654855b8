package io.ukernel.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.Cap;
import io.ukernel.kernel.policy.Policy.Limits;
import io.ukernel.app.Manifest.NetScope;
import io.ukernel.app.Manifest.Preopen;
import io.ukernel.app.Manifest.RestartPolicy;
import io.ukernel.app.Manifest.TaskSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestParserTest {
    private static final Path FILE = Path.of("ukernel.toml");

    static final String FULL = """
            name = "hello"
            entry = "src/main.py:run"
            python = "3.12"

            [caps]
            grant = ["LOG", "time", "TASK", "IPC", "NET", "IO"]

            [caps.net]
            connect = [
              "127.0.0.1:8080",
              "localhost:*",
              "*.example.com:443",
              "[::1]:9000",
            ]
            bind = ["127.0.0.1:0"]

            [caps.io]
            data = { path = "data", mode = "ro" }
            cache = { path = "var/cache", mode = "rw" }

            [limits]
            tasks = 8
            handles = 2_048
            channel_bytes = 65536
            socket_bytes = 8388608
            queued_bytes = 4_194_304
            net_bytes = 33_554_432
            tmp_bytes = 2_097_152

            [restart]
            policy = "on-failure"
            max_retries = 3
            backoff_ms = 50
            backoff_max_ms = 5000

            [sandbox]
            mode = "off"
            namespaces = "off"

            [[task]]
            name = "consumer"
            entry = "src/consumer.py"
            caps = ["LOG", "IPC"]
            start = "boot"
            restart = "always"

            [[task]]
            name = "helper"
            entry = "src/helper.py:work"
            """;

    private static ManifestException error(String text) {
        return assertThrows(ManifestException.class, () -> ManifestParser.parse(FILE, text));
    }

    private static void assertError(ManifestException e, int line, String key, String... fragments) {
        assertEquals(line, e.line(), e.getMessage());
        assertEquals(key, e.key(), e.getMessage());
        assertTrue(e.getMessage().startsWith("ukernel.toml:" + line + ": " + key + ": "), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "expected \"" + f + "\" in: " + e.getMessage());
        }
    }

    @Test
    void parse_everyKey(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ukernel.toml");
        Files.writeString(file, FULL);
        Manifest m = ManifestParser.parse(file);
        long all = Cap.ALL_MASK;
        RestartPolicy restart = new RestartPolicy(RestartPolicy.Mode.ON_FAILURE, 3, 50, 5000);
        Manifest expected = new Manifest(file, "hello", "src/main.py:run", "3.12", all,
                new NetScope(List.of("127.0.0.1:8080", "localhost:*", "*.example.com:443", "[::1]:9000"),
                        List.of("127.0.0.1:0")),
                Map.of("data", new Preopen("data", "data", false), "cache", new Preopen("cache", "var/cache", true)),
                new Limits(8, 2048, 65536, 8388608, 4_194_304, 33_554_432, 2_097_152),
                restart,
                List.of(new TaskSpec("consumer", "src/consumer.py", Cap.LOG.bit() | Cap.IPC.bit(), true,
                                new RestartPolicy(RestartPolicy.Mode.ALWAYS, 3, 50, 5000)),
                        new TaskSpec("helper", "src/helper.py:work", all, false,
                                new RestartPolicy(RestartPolicy.Mode.NO, 3, 50, 5000))),
                new Manifest.Sandbox(Manifest.Sandbox.Mode.OFF, Manifest.Sandbox.Namespaces.OFF));
        assertEquals(expected, m);
    }

    @Test
    void parse_onlyNameGivesDefaults() throws Exception {
        Manifest m = ManifestParser.parse(FILE, "name = \"x\"\n");
        assertEquals(new Manifest(FILE, "x", "src/main.py", "3.11", 0, NetScope.none(), Map.of(),
                Limits.defaults(), RestartPolicy.never(), List.of(), Manifest.Sandbox.defaults()), m);
    }

    @Test
    void subprocess_listsProgramsAndResolvesThemAtStart(@TempDir Path dir) throws Exception {
        Manifest m = ManifestParser.parse(FILE, "name = \"x\"\n[caps]\nsubprocess = [\"sh\", \"/bin/sh\", \"python\", \"sh\"]\n");
        assertEquals(List.of("sh", "/bin/sh", "python"), m.programs());
        Path tool = dir.resolve("tool");
        Files.writeString(tool, "\u007fELF");
        tool.toFile().setExecutable(true);
        Manifest byName = ManifestParser.parse(FILE, "name = \"x\"\n[caps]\nsubprocess = [\"tool\", \"python\"]\n");
        assertEquals(List.of(tool, Path.of("python")), byName.resolvePrograms("/nonexistent:" + dir));
        assertEquals(List.of(), ManifestParser.parse(FILE, "name = \"x\"\n").programs());
    }

    @Test
    void subprocess_refusesWhatCannotRunAndSaysWhatToChange(@TempDir Path dir) throws Exception {
        assertError(error("name = \"x\"\n[caps]\nsubprocess = [\"bin/git\"]\n"), 3, "caps.subprocess",
                "give an absolute path", "a relative path is not allowed");
        assertError(error("name = \"x\"\n[caps]\nsubprocess = [\"/usr/bin/../bin/sh\"]\n"), 3, "caps.subprocess",
                "normalized absolute path");
        Manifest missing = ManifestParser.parse(FILE, "name = \"x\"\n[caps]\nsubprocess = [\"no-such-tool\"]\n");
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> missing.resolvePrograms(dir.toString()));
        assertTrue(e.getMessage().contains("\"no-such-tool\" is not found on the kernel's PATH"), e.getMessage());
        Path script = dir.resolve("script");
        Files.writeString(script, "#!/bin/sh\necho hi\n");
        script.toFile().setExecutable(true);
        Manifest scripted = ManifestParser.parse(FILE, "name = \"x\"\n[caps]\nsubprocess = [\"" + script + "\"]\n");
        e = assertThrows(java.io.IOException.class, () -> scripted.resolvePrograms("/bin"));
        assertTrue(e.getMessage().contains("is a script run by /bin/sh") && e.getMessage().contains("add \"/bin/sh\""),
                e.getMessage());
        Manifest both = ManifestParser.parse(FILE, "name = \"x\"\n[caps]\nsubprocess = [\"" + script + "\", \"sh\"]\n");
        assertEquals(List.of(script, Path.of("/bin/sh")), both.resolvePrograms("/bin"));
    }

    @Test
    void parse_restartPolicyWithoutRetriesGetsDefaultRetries() throws Exception {
        Manifest m = ManifestParser.parse(FILE, "name = \"x\"\n[restart]\npolicy = \"always\"\n");
        assertEquals(ManifestParser.DEFAULT_MAX_RETRIES, m.restart().maxRetries());
    }

    @Test
    void unknownKey_topLevel() {
        assertError(error("name = \"x\"\nentyr = \"src/a.py\"\n"), 2, "entyr", "unknown key", "did you mean \"entry\"?");
    }

    @Test
    void unknownKey_inCaps() {
        assertError(error("name = \"x\"\n\n[caps]\ngrnat = [\"LOG\"]\n"), 4, "caps.grnat",
                "unknown key (did you mean \"grant\"?)");
    }

    @Test
    void unknownKey_inTask() {
        assertError(error("name = \"x\"\n[[task]]\nname = \"a\"\nentry = \"src/a.py\"\nstrat = \"boot\"\n"), 5,
                "task[0].strat", "did you mean \"start\"?");
    }

    @Test
    void unknownKey_withoutCloseMatchListsValidKeys() {
        assertError(error("name = \"x\"\n[limits]\nmemory = 5\n"), 3, "limits.memory",
                "valid keys in [limits]: tasks, handles, channel_bytes, socket_bytes, queued_bytes, net_bytes, tmp_bytes");
    }

    @Test
    void unknownTable_didYouMean() {
        assertError(error("name = \"x\"\n[cap]\n"), 2, "cap", "did you mean \"caps\"?");
    }

    @Test
    void wrongType_saysExpectedAndFound() {
        assertError(error("name = \"x\"\n[limits]\ntasks = \"16\"\n"), 3, "limits.tasks",
                "expected an integer, found a string (\"16\")");
        assertError(error("name = 5\n"), 1, "name", "expected a string, found an integer (5)");
        assertError(error("name = \"x\"\n[caps]\ngrant = \"LOG\"\n"), 3, "caps.grant", "expected an array of strings");
        assertError(error("name = \"x\"\ncaps = 1\n"), 2, "caps", "expected a table");
        assertError(error("name = \"x\"\n[task]\nname = \"a\"\n"), 2, "task", "[[task]]");
    }

    @Test
    void badCapability_listsKnownNames() {
        assertError(error("name = \"x\"\n[caps]\ngrant = [\n  \"LOG\",\n  \"NETT\",\n]\n"), 5, "caps.grant",
                "unknown capability \"NETT\"", "did you mean \"NET\"?", "LOG, TIME, TASK, IPC, NET, IO");
    }

    @Test
    void duplicateKey() {
        assertError(error("name = \"x\"\n[limits]\ntasks = 1\ntasks = 2\n"), 4, "limits.tasks",
                "duplicate key (first defined on line 3)");
    }

    @Test
    void unterminatedString() {
        assertError(error("name = \"x\"\nentry = \"src/main.py\n"), 2, "entry", "unterminated string");
    }

    @Test
    void badPort() {
        assertError(error("name = \"x\"\n[caps]\ngrant = [\"NET\"]\n[caps.net]\nconnect = [\"127.0.0.1:70000\"]\n"),
                5, "caps.net.connect", "port 70000", "out of range (1..65535)");
        assertError(error("name = \"x\"\n[caps]\ngrant = [\"NET\"]\n[caps.net]\nconnect = [\"localhost\"]\n"),
                5, "caps.net.connect", "expected host:port");
        assertError(error("name = \"x\"\n[caps]\ngrant = [\"NET\"]\n[caps.net]\nconnect = [\"127.0.0.1:0\"]\n"),
                5, "caps.net.connect", "out of range (1..65535)");
    }

    @Test
    void udpPatterns_areCheckedAsHostPort_afterTheirPrefix() throws Exception {
        assertError(error("name = \"x\"\n[caps]\ngrant = [\"NET\"]\n[caps.net]\nconnect = [\"udp:127.0.0.1:0\"]\n"),
                5, "caps.net.connect", "out of range (1..65535)", "UDP pattern \"udp:127.0.0.1:0\"");
        assertError(error("name = \"x\"\n[caps]\ngrant = [\"NET\"]\n[caps.net]\nbind = [\"udp:nohost\"]\n"),
                5, "caps.net.bind", "expected host:port");
        Manifest m = ManifestParser.parse(FILE, "name = \"x\"\n[caps]\ngrant = [\"NET\"]\n[caps.net]\n"
                + "connect = [\"udp:[::1]:53\", \"127.0.0.1:80\"]\nbind = [\"udp:0.0.0.0:*\"]\n");
        assertEquals(List.of("udp:[::1]:53", "127.0.0.1:80"), m.net().connect());
        assertEquals(List.of("udp:0.0.0.0:*"), m.net().bind());
    }

    @Test
    void badHost() {
        assertError(error("name = \"x\"\n[caps]\ngrant = [\"NET\"]\n[caps.net]\nbind = [\"300.1.1.1:80\"]\n"),
                5, "caps.net.bind", "not an IPv4 address");
        assertError(error("name = \"x\"\n[caps]\ngrant = [\"NET\"]\n[caps.net]\nbind = [\"::1:80\"]\n"),
                5, "caps.net.bind", "brackets");
    }

    @Test
    void outOfRange_saysTheRange() {
        assertError(error("name = \"x\"\n[limits]\ntasks = 0\n"), 3, "limits.tasks", "0 is out of range (1..4096)");
        assertError(error("name = \"x\"\n[limits]\nqueued_bytes = 1024\n"), 3, "limits.queued_bytes",
                "1024 is out of range");
        assertError(error("name = \"x\"\n[limits]\nqueue_bytes = 1\n"), 3, "limits.queue_bytes",
                "did you mean \"queued_bytes\"?");
    }

    @Test
    void scopesWithoutGrant_sayToGrant() {
        assertError(error("name = \"x\"\n[caps]\ngrant = [\"LOG\"]\n[caps.net]\nconnect = [\"a:1\"]\n"), 4,
                "caps.net", "add \"NET\" to grant");
        assertError(error("name = \"x\"\n[caps.io]\nd = { path = \"d\" }\n"), 2, "caps.io", "add \"IO\" to grant");
    }

    @Test
    void badNameEntryAndPython() {
        assertError(error("name = \"Hello\"\n"), 1, "name", "invalid name");
        assertError(error("name = \"x\"\nentry = \"../main.py\"\n"), 2, "entry", "\"..\"");
        assertError(error("name = \"x\"\nentry = \"/abs/main.py\"\n"), 2, "entry", "absolute");
        assertError(error("name = \"x\"\nentry = \"src/main.rb\"\n"), 2, "entry", ".py");
        assertError(error("name = \"x\"\nentry = \"src/main.py:1x\"\n"), 2, "entry", "invalid function");
        assertError(error("name = \"x\"\npython = \"3.10\"\n"), 2, "python", "3.11 or newer");
        assertError(error("name = \"x\"\npython = \"three\"\n"), 2, "python", "\"3.N\"");
    }

    @Test
    void missingName() {
        ManifestException e = error("entry = \"src/main.py\"\n");
        assertEquals("name", e.key());
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
    }

    @Test
    void preopenErrors() {
        String head = "name = \"x\"\n[caps]\ngrant = [\"IO\"]\n[caps.io]\n";
        assertError(error(head + "d = { path = \"../up\" }\n"), 5, "caps.io.d.path", "\"..\"");
        assertError(error(head + "d = { path = \"d\", mode = \"wr\" }\n"), 5, "caps.io.d.mode", "\"ro\"", "\"rw\"");
        assertError(error(head + "d = { mode = \"ro\" }\n"), 5, "caps.io.d.path", "missing");
        assertError(error(head + "d = { path = \"d\", mod = \"ro\" }\n"), 5, "caps.io.d.mod", "did you mean \"mode\"?");
        for (String dir : new String[] {"build", "dist", "logs", "adapter", "build/root/data", "logs/x"}) {
            assertError(error(head + "d = { path = \"" + dir + "\", mode = \"rw\" }\n"), 5, "caps.io.d.path",
                    "which the kernel uses", "path = \"data\"");
        }
    }

    @Test
    void taskErrors() {
        String head = "name = \"x\"\n[caps]\ngrant = [\"LOG\"]\n[[task]]\n";
        assertError(error(head + "name = \"main\"\nentry = \"src/a.py\"\n"), 5, "task[0].name", "\"main\"");
        assertError(error(head + "name = \"a\"\nentry = \"src/a.py\"\n[[task]]\nname = \"a\"\nentry = \"src/b.py\"\n"),
                8, "task[1].name", "duplicate task name \"a\" (first used on line 5)");
        assertError(error(head + "name = \"a\"\nentry = \"src/a.py\"\ncaps = [\"LOG\", \"NET\"]\n"), 7,
                "task[0].caps", "NET not in [caps] grant");
        assertError(error(head + "name = \"a\"\nentry = \"src/a.py\"\nstart = \"now\"\n"), 7, "task[0].start",
                "\"boot\"", "\"spawn\"");
        assertError(error(head + "name = \"a\"\nentry = \"src/a.py\"\nrestart = \"on_failure\"\n"), 7,
                "task[0].restart", "did you mean \"on-failure\"?");
        assertError(error(head + "name = \"a\"\n"), 4, "task[0].entry", "missing");
    }

    @Test
    void restartErrors() {
        assertError(error("name = \"x\"\n[restart]\nbackoff_ms = 500\nbackoff_max_ms = 100\n"), 4,
                "restart.backoff_max_ms", "below backoff_ms");
        assertError(error("name = \"x\"\n[restart]\npolicy = \"sometimes\"\n"), 3, "restart.policy",
                "no, on-failure, always");
    }

    @Test
    void sandbox_defaultsToStrict_andReadsModeAndNamespaces() throws Exception {
        assertEquals(Manifest.Sandbox.defaults(), ManifestParser.parse(FILE, "name = \"x\"\n").sandbox());
        assertEquals(Manifest.Sandbox.Mode.STRICT, Manifest.Sandbox.defaults().mode());
        Manifest m = ManifestParser.parse(FILE, "name = \"x\"\n[sandbox]\nmode = \"off\"\n");
        assertEquals(new Manifest.Sandbox(Manifest.Sandbox.Mode.OFF, Manifest.Sandbox.Namespaces.AUTO), m.sandbox());
        m = ManifestParser.parse(FILE, "name = \"x\"\n[sandbox]\nnamespaces = \"off\"\n");
        assertEquals(new Manifest.Sandbox(Manifest.Sandbox.Mode.STRICT, Manifest.Sandbox.Namespaces.OFF),
                m.sandbox());
        m = ManifestParser.parse(FILE, "name = \"x\"\n[sandbox]\nnamespaces = \"on\"\n");
        assertEquals(new Manifest.Sandbox(Manifest.Sandbox.Mode.STRICT, Manifest.Sandbox.Namespaces.ON),
                m.sandbox());
    }

    @Test
    void sandboxErrors_nameTheKeyAndLine() {
        assertError(error("name = \"x\"\n[sandbox]\nmode = \"strcit\"\n"), 3, "sandbox.mode",
                "invalid value \"strcit\" (did you mean \"strict\"?)");
        assertError(error("name = \"x\"\n[sandbox]\nmode = \"none\"\n"), 3, "sandbox.mode", "\"strict\"", "\"off\"");
        assertError(error("name = \"x\"\n[sandbox]\nnamespaces = \"yes\"\n"), 3, "sandbox.namespaces",
                "\"auto\"", "\"on\"", "\"off\"");
        assertError(error("name = \"x\"\n[sandbox]\nmdoe = \"off\"\n"), 3, "sandbox.mdoe", "did you mean \"mode\"?");
        assertError(error("name = \"x\"\n[sandbox]\nmode = true\n"), 3, "sandbox.mode", "expected a string");
    }

    @Test
    void syntaxErrorNamesFileAndLine(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ukernel.toml");
        Files.writeString(file, "name = \"x\"\n[caps\n");
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestParser.parse(file));
        assertTrue(e.getMessage().startsWith(file + ":2: "), e.getMessage());
    }

    @Test
    void missingFileAndBadUtf8(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ukernel.toml");
        assertTrue(assertThrows(ManifestException.class, () -> ManifestParser.parse(file)).getMessage()
                .contains("no such file"));
        Files.write(file, new byte[] {'a', '=', '1', '\n', 'b', '=', '"', (byte) 0xff, '"'});
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestParser.parse(file));
        assertEquals(2, e.line());
        assertTrue(e.getMessage().contains("UTF-8"));
    }
}
