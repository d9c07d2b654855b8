package io.ukernel.abi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The committed C header and Python constants must equal what the enums generate (Zircon-style goldens). */
class AbiGeneratorTest {
    private static final String FIX = " is out of date with the io.ukernel.abi enums: run scripts/gen-abi";

    @Test
    void cHeader_matchesTheEnums() throws IOException {
        Path header = RepoFiles.root().resolve(AbiGenerator.C_HEADER_PATH);
        assertEquals(AbiGenerator.cHeader(), Files.readString(header), header + FIX);
    }

    @Test
    void pythonConstants_matchTheEnums() throws IOException {
        Path module = RepoFiles.root().resolve(AbiGenerator.PYTHON_PATH);
        assertEquals(AbiGenerator.pythonModule(), Files.readString(module), module + FIX);
    }

    @Test
    void cHeader_compilesWithWarningsAsErrors(@TempDir Path tmp) throws Exception {
        Path source = tmp.resolve("check.c");
        StringBuilder c = new StringBuilder("#include \"ukernel_abi.h\"\n#include <stdio.h>\nint main(void) {\n");
        // Use every call and status constant so a malformed define cannot hide.
        for (Call call : Call.values()) {
            c.append("    if (UK_CALL_").append(call.abiName().toUpperCase()).append(" != ").append(call.number())
                    .append(") return 1;\n");
        }
        for (Status s : Status.values()) {
            c.append("    if (UK_").append(s.name()).append(" != ").append(s.code()).append(") return 2;\n");
        }
        c.append("    uk_request_header h = { .length = 8, .seq = 1, .call = UK_CALL_ABI_VERSION, .argc = 0 };\n");
        c.append("    printf(\"%u %u\\n\", h.call, (unsigned) sizeof h);\n    return 0;\n}\n");
        Files.writeString(source, c);
        Path exe = tmp.resolve("check");
        run(List.of("gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I",
                RepoFiles.root().resolve("include").toString(), "-o", exe.toString(), source.toString()));
        assertEquals("1 12", run(List.of(exe.toString())).strip());
    }

    private static String run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + cmd);
        assertEquals(0, p.exitValue(), cmd + " failed:\n" + out);
        return out;
    }
}
