package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdapterResourcesTest {
    @TempDir
    Path tmp;
    private String saved;

    @AfterEach
    void restore() {
        if (saved != null) {
            System.setProperty(AdapterResources.PROPERTY, saved);
        }
    }

    private void clearProperty() {
        saved = System.getProperty(AdapterResources.PROPERTY);
        System.clearProperty(AdapterResources.PROPERTY);
    }

    @Test
    void extractTo_fromAJar() throws Exception {
        clearProperty();
        Path jar = tmp.resolve("cli.jar");
        try (JarOutputStream j = new JarOutputStream(Files.newOutputStream(jar))) {
            for (String name : new String[] {"adapter/", "adapter/ukernel/", "adapter/ukernel/__init__.py",
                    "adapter/ukernel/_wire.py", "adapter/ukernel/py.typed", "adapter/ukernel/notes.txt"}) {
                j.putNextEntry(new JarEntry(name));
                if (!name.endsWith("/")) {
                    j.write(("# " + name + "\n").getBytes());
                }
                j.closeEntry();
            }
        }
        try (URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()}, null)) {
            Path out = AdapterResources.extractTo(tmp.resolve("out"), loader);
            assertEquals("# adapter/ukernel/_wire.py\n", Files.readString(out.resolve("_wire.py")));
            assertTrue(Files.exists(out.resolve("__init__.py")));
            assertTrue(Files.exists(out.resolve("py.typed")));
            assertTrue(!Files.exists(out.resolve("notes.txt")));
        }
    }

    @Test
    void extractTo_fromADirectoryOnTheClasspath() throws Exception {
        clearProperty();
        Path classes = Files.createDirectories(tmp.resolve("classes/adapter/ukernel"));
        Files.writeString(classes.resolve("__init__.py"), "x = 1\n");
        try (URLClassLoader loader = new URLClassLoader(new URL[] {tmp.resolve("classes").toUri().toURL()}, null)) {
            Path out = AdapterResources.extractTo(tmp.resolve("out"), loader);
            assertEquals("x = 1\n", Files.readString(out.resolve("__init__.py")));
        }
    }

    @Test
    void extractTo_propertyOverrides() throws Exception {
        saved = System.getProperty(AdapterResources.PROPERTY);
        Path src = Files.createDirectories(tmp.resolve("src"));
        Files.writeString(src.resolve("__init__.py"), "dev\n");
        System.setProperty(AdapterResources.PROPERTY, src.toString());
        Path out = AdapterResources.extractTo(tmp.resolve("out"));
        assertEquals("dev\n", Files.readString(out.resolve("__init__.py")));
        if (saved == null) {
            System.clearProperty(AdapterResources.PROPERTY);
        }
    }

    @Test
    void extractTo_missingAdapterSaysSo() throws Exception {
        clearProperty();
        try (URLClassLoader empty = new URLClassLoader(new URL[0], null)) {
            IOException e = assertThrows(IOException.class, () -> AdapterResources.extractTo(tmp.resolve("o"), empty));
            assertTrue(e.getMessage().contains("missing"), e.getMessage());
        }
    }
}
