package io.ukernel.app.bundle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.app.ManifestException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AppBuilderTest {
    @TempDir
    Path tmp;
    Path app;
    Path adapter;

    @BeforeEach
    void setUp() throws Exception {
        app = TestApps.app(tmp, "demo");
        adapter = TestApps.adapterCopy(tmp);
    }

    @Test
    void build_writesBundleAndAdapterMetadataThenIsUpToDate() throws Exception {
        BuildResult first = new AppBuilder(adapter).build(app, false);
        assertFalse(first.upToDate());
        assertTrue(Files.isRegularFile(first.bundle().path()));
        PythonRuntime rt = first.runtime();
        Path json = app.resolve("build/adapter/python-" + rt.minor() + "/adapter.json");
        assertEquals(json, first.adapterJson());
        String text = Files.readString(json);
        assertTrue(text.contains("\"runtime\": \"" + rt.executable() + "\""), text);
        assertTrue(text.contains("\"runtime_version\": \"" + rt.version() + "\""), text);
        assertTrue(text.contains("\"adapter_version\": \"0.1.0\""), text);
        assertTrue(text.contains("\"abi_version\": \"" + io.ukernel.abi.Abi.VERSION_MAJOR + "." + io.ukernel.abi.Abi.VERSION_MINOR + "\""), text);
        assertTrue(text.contains("\"entrypoint\": \"src/main.py:main\""), text);
        assertEquals(AdapterMetadata.read(json), first.adapter());

        BuildResult second = new AppBuilder(adapter).build(app, false);
        assertTrue(second.upToDate());
        assertEquals(first.bundle(), second.bundle());

        BuildResult forced = new AppBuilder(adapter).build(app, true);
        assertFalse(forced.upToDate());
        assertEquals(first.bundle().sha256(), forced.bundle().sha256());
    }

    @Test
    void build_pythonTooOldNamesBothVersions() {
        AppBuilder b = new AppBuilder(adapter, () -> new PythonRuntime(Path.of("/opt/py/bin/python3.10"), "3.10.4"));
        BuildException e = assertThrows(BuildException.class, () -> b.build(app, false));
        assertTrue(e.getMessage().contains("3.11") && e.getMessage().contains("3.10.4"), e.getMessage());
        assertFalse(Files.exists(Bundle.path(app)));
    }

    @Test
    void build_missingPythonIsABuildException() {
        AppBuilder b = new AppBuilder(adapter, () -> PythonRuntime.detect("/nonexistent/python3"));
        assertThrows(BuildException.class, () -> b.build(app, false));
    }

    @Test
    void build_syntaxErrorInASource_namesFileAndLine_andWritesNoBundle() throws Exception {
        Files.createDirectories(app.resolve("src/pkg"));
        Files.writeString(app.resolve("src/pkg/util.py"), "def ok():\n    return 1\n\ndef broken(:\n    pass\n");
        BuildException e = assertThrows(BuildException.class, () -> new AppBuilder(adapter).build(app, false));
        assertTrue(e.getMessage().startsWith("src/pkg/util.py:4: "), e.getMessage());
        assertTrue(e.getMessage().contains("fix it, then build again"), e.getMessage());
        assertFalse(Files.exists(Bundle.path(app)));

        Files.writeString(app.resolve("src/pkg/util.py"), "def ok():\n    return 1\n");
        new AppBuilder(adapter).build(app, false);
        assertTrue(Files.isRegularFile(Bundle.path(app)));
        assertFalse(Files.exists(app.resolve("src/pkg/__pycache__")), "the check must not write bytecode");
    }

    @Test
    void build_missingEntryFile() throws Exception {
        Files.delete(app.resolve("src/main.py"));
        ManifestException e = assertThrows(ManifestException.class, () -> new AppBuilder(adapter).build(app, false));
        assertEquals("entry", e.key());
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void build_entryOutsideSrc() throws Exception {
        Path toml = app.resolve("ukernel.toml");
        Files.writeString(toml, Files.readString(toml).replace("entry = \"src/main.py\"", "entry = \"main.py\""));
        Files.writeString(app.resolve("main.py"), "");
        ManifestException e = assertThrows(ManifestException.class, () -> new AppBuilder(adapter).build(app, false));
        assertTrue(e.getMessage().contains("outside src/"), e.getMessage());
    }

    @Test
    void entrypoint_defaultsToMain() {
        assertEquals("src/a.py:main", AdapterMetadata.entrypoint("src/a.py"));
        assertEquals("src/a.py:run", AdapterMetadata.entrypoint("src/a.py:run"));
    }
}
