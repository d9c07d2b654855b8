package io.ukernel.app.bundle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * requirements.txt installed by the worker's real interpreter and pip, from a wheel directory this test writes
 * (the public index is not reachable from the test machines, and a test must not depend on it).
 */
class DependenciesTest {
    @TempDir
    Path tmp;
    Path app;
    Path adapter;
    Path wheels;
    final List<String> pipOutput = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        app = TestApps.app(tmp, "demo");
        adapter = TestApps.adapterCopy(tmp);
        wheels = Files.createDirectories(app.resolve("wheels"));
        wheel(wheels, "demo_pure", "1.0", Map.of("demo_pure/__init__.py", "GREETING = 'hello from a wheel'\n"));
    }

    private BuildResult build(boolean force) throws Exception {
        return new AppBuilder(adapter, PythonRuntime::detect, pipOutput::add).build(app, force);
    }

    private void requirements(String text) throws IOException {
        Files.writeString(app.resolve(Dependencies.REQUIREMENTS), text);
    }

    @Test
    void requirementsAreInstalledIntoTheBundleOnceAndReproducibly() throws Exception {
        requirements("--no-index\n--find-links wheels\ndemo-pure==1.0\n");
        BuildResult first = build(false);
        assertTrue(pipOutput.stream().anyMatch(l -> l.contains("Successfully installed demo-pure-1.0")), pipOutput
                .toString());
        assertEquals("GREETING = 'hello from a wheel'\n",
                new String(BundleReader.read(first.bundle().path(), "deps/demo_pure/__init__.py").orElseThrow(),
                        StandardCharsets.UTF_8));
        try (Stream<Path> s = Files.walk(Dependencies.site(app))) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().equals("__pycache__")), "no byte code");
        }

        pipOutput.clear();
        BuildResult again = build(false);
        assertTrue(pipOutput.isEmpty(), "unchanged requirements are not reinstalled: " + pipOutput);
        assertTrue(again.upToDate());

        BuildResult forced = build(true);
        assertFalse(pipOutput.isEmpty(), "--force reinstalls");
        assertEquals(first.bundle().sha256(), forced.bundle().sha256(), "same wheels, same bundle bytes");
    }

    @Test
    void changedRequirementsReinstallAndRemovedOnesLeaveTheBundle() throws Exception {
        requirements("--no-index\n--find-links wheels\ndemo-pure==1.0\n");
        build(false);
        wheel(wheels, "demo_pure", "2.0", Map.of("demo_pure/__init__.py", "GREETING = 'version two'\n"));
        requirements("--no-index\n--find-links wheels\ndemo-pure==2.0\n");
        BuildResult second = build(false);
        assertEquals("GREETING = 'version two'\n", new String(BundleReader.read(second.bundle().path(),
                "deps/demo_pure/__init__.py").orElseThrow(), StandardCharsets.UTF_8));

        Files.delete(app.resolve(Dependencies.REQUIREMENTS));
        BuildResult third = build(false);
        assertTrue(BundleReader.read(third.bundle().path(), "deps/demo_pure/__init__.py").isEmpty());
        assertFalse(Files.exists(Dependencies.dir(app)));
    }

    @Test
    void aFailedInstallSaysWhatToChangeAndKeepsNoHalfInstall() throws Exception {
        requirements("--no-index\n--find-links wheels\nno-such-package==9.9\n");
        BuildException e = assertThrows(BuildException.class, () -> build(false));
        assertTrue(e.getMessage().contains("requirements.txt") && e.getMessage().contains("no-such-package")
                && e.getMessage().contains("PIP_FIND_LINKS"), e.getMessage());
        assertFalse(Files.exists(Bundle.path(app)), "no bundle without its packages");
        assertFalse(Files.exists(Dependencies.site(app)));
        try (Stream<Path> s = Files.list(Dependencies.dir(app))) {
            assertEquals(List.of(), s.toList(), "the temporary install is removed");
        }
    }

    @Test
    void aHashPinThatDoesNotMatchIsRefused() throws Exception {
        requirements("--no-index\n--find-links wheels\ndemo-pure==1.0 --hash=sha256:" + "0".repeat(64) + "\n");
        BuildException e = assertThrows(BuildException.class, () -> build(false));
        assertTrue(e.getMessage().toLowerCase().contains("hash"), e.getMessage());
    }

    @Test
    void theCacheKeyFollowsTheFileTheInterpreterAndPipsSources() {
        PythonRuntime py = new PythonRuntime(Path.of("/usr/bin/python3"), "3.11.2");
        byte[] req = "demo-pure==1.0\n".getBytes(StandardCharsets.UTF_8);
        String base = Dependencies.key(req, py, Map.of());
        assertEquals(base, Dependencies.key(req, py, Map.of("HOME", "/elsewhere")));
        assertNotEquals(base, Dependencies.key("demo-pure==2.0\n".getBytes(StandardCharsets.UTF_8), py, Map.of()));
        assertNotEquals(base, Dependencies.key(req, new PythonRuntime(py.executable(), "3.12.1"), Map.of()));
        assertNotEquals(base, Dependencies.key(req, py, Map.of("PIP_FIND_LINKS", "/wheels")));
        assertNotEquals(base, Dependencies.key(req, py, Map.of("PIP_INDEX_URL", "http://127.0.0.1:1/simple")));
    }

    /** A minimal pure-Python wheel (PEP 427): the files, METADATA, WHEEL and a RECORD of their hashes. */
    static Path wheel(Path dir, String name, String version, Map<String, String> files) throws Exception {
        String distInfo = name + "-" + version + ".dist-info/";
        Map<String, String> all = new LinkedHashMap<>(files);
        all.put(distInfo + "METADATA", "Metadata-Version: 2.1\nName: " + name.replace('_', '-') + "\nVersion: "
                + version + "\n");
        all.put(distInfo + "WHEEL", "Wheel-Version: 1.0\nGenerator: ukernel-test\nRoot-Is-Purelib: true\n"
                + "Tag: py3-none-any\n");
        StringBuilder record = new StringBuilder();
        for (Map.Entry<String, String> f : all.entrySet()) {
            byte[] b = f.getValue().getBytes(StandardCharsets.UTF_8);
            String digest = Base64.getUrlEncoder().withoutPadding().encodeToString(
                    java.security.MessageDigest.getInstance("SHA-256").digest(b));
            record.append(f.getKey()).append(",sha256=").append(digest).append(',').append(b.length).append('\n');
        }
        record.append(distInfo).append("RECORD,,\n");
        all.put(distInfo + "RECORD", record.toString());
        Path wheel = dir.resolve(name + "-" + version + "-py3-none-any.whl");
        try (OutputStream out = Files.newOutputStream(wheel); ZipOutputStream zip = new ZipOutputStream(out)) {
            for (Map.Entry<String, String> f : all.entrySet()) {
                zip.putNextEntry(new ZipEntry(f.getKey()));
                zip.write(f.getValue().getBytes(StandardCharsets.UTF_8));
                zip.closeEntry();
            }
        }
        return wheel;
    }
}
