package io.ukernel.app.bundle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.app.ManifestParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BundleTest {
    @TempDir
    Path tmp;
    Path app;
    Path adapter;

    @BeforeEach
    void setUp() throws Exception {
        app = TestApps.app(tmp, "demo");
        adapter = TestApps.adapterCopy(tmp);
    }

    private void build() throws Exception {
        new BundleBuilder(app, adapter).build(ManifestParser.parse(app.resolve("ukernel.toml")));
    }

    @Test
    void isStale_missingBundle() {
        assertTrue(Bundle.isStale(app, adapter));
    }

    @Test
    void isStale_freshAfterBuild() throws Exception {
        build();
        assertFalse(Bundle.isStale(app, adapter));
    }

    @Test
    void isStale_inputNewerThanBundle() throws Exception {
        build();
        Files.setLastModifiedTime(app.resolve("src/main.py"), FileTime.from(Instant.now().plusSeconds(60)));
        assertTrue(Bundle.isStale(app, adapter));
    }

    @Test
    void isStale_adapterChangedEvenIfOlder() throws Exception {
        build();
        Path init = adapter.resolve("__init__.py");
        Files.writeString(init, Files.readString(init) + "\n# changed\n");
        Files.setLastModifiedTime(init, FileTime.fromMillis(0));
        assertTrue(Bundle.isStale(app, adapter));
    }

    @Test
    void isStale_manifestChanged() throws Exception {
        build();
        Path toml = app.resolve("ukernel.toml");
        Files.writeString(toml, Files.readString(toml).replace("python = \"3.11\"", "python = \"3.12\""));
        Files.setLastModifiedTime(toml, FileTime.fromMillis(0));
        assertTrue(Bundle.isStale(app, adapter));
    }

    @Test
    void isStale_fileRemoved() throws Exception {
        Files.writeString(app.resolve("src/extra.py"), "");
        build();
        Files.delete(app.resolve("src/extra.py"));
        Files.setLastModifiedTime(app.resolve("src"), FileTime.fromMillis(0));
        assertTrue(Bundle.isStale(app, adapter));
    }

    @Test
    void isStale_envIsNotAnInput() throws Exception {
        build();
        Files.writeString(app.resolve("env/ukernel.env"), "GREETING=hi\n");
        assertFalse(Bundle.isStale(app, adapter));
    }

    @Test
    void path_andVersions() {
        assertEquals(app.resolve("build/bundle.tgz"), Bundle.path(app));
        assertEquals(io.ukernel.abi.Abi.VERSION_MAJOR + "." + io.ukernel.abi.Abi.VERSION_MINOR, Bundle.abiVersion());
    }
}
