package io.ukernel.app.bundle;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class PythonRuntimeTest {
    @Test
    void detect_findsTheRealInterpreter() throws Exception {
        PythonRuntime rt = PythonRuntime.detect();
        assertTrue(rt.executable().isAbsolute(), rt.toString());
        assertTrue(Files.isExecutable(rt.executable()), rt.toString());
        assertTrue(rt.version().matches("3\\.\\d+\\.\\d+"), rt.version());
        assertTrue(rt.atLeast("3.11"), rt.version());
    }

    @Test
    void detect_missingInterpreterSaysWhatToInstall() {
        BuildException e = assertThrows(BuildException.class, () -> PythonRuntime.detect("/nonexistent/python3"));
        assertTrue(e.getMessage().contains("install CPython 3.11 or newer"), e.getMessage());
        assertTrue(e.getMessage().contains(PythonRuntime.ENV), e.getMessage());
    }

    @Test
    void detect_notPython() {
        BuildException e = assertThrows(BuildException.class, () -> PythonRuntime.detect("false"));
        assertTrue(e.getMessage().contains("not a working CPython"), e.getMessage());
    }

    @Test
    void requireAtLeast_namesBothVersions() {
        PythonRuntime rt = new PythonRuntime(Path.of("/usr/bin/python3"), "3.11.7");
        BuildException e = assertThrows(BuildException.class, () -> rt.requireAtLeast("3.12", "ukernel.toml"));
        assertTrue(e.getMessage().contains("3.12") && e.getMessage().contains("3.11.7"), e.getMessage());
    }

    @Test
    void atLeast_comparesNumerically() {
        PythonRuntime rt = new PythonRuntime(Path.of("/p"), "3.11.7");
        assertTrue(rt.atLeast("3.9"));
        assertTrue(rt.atLeast("3.11"));
        assertFalse(rt.atLeast("3.12"));
        assertFalse(rt.atLeast("4.0"));
        assertEquals("3.11", rt.minor());
    }
}
