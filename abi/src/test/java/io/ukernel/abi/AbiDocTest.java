package io.ukernel.abi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** docs/kernel-abi.md documents every call, with the number the enum gives it, in number order. */
class AbiDocTest {
    private static final Pattern HEADING = Pattern.compile("^### `([a-z0-9_]+)` \\(0x([0-9a-f]{2})\\)$",
            Pattern.MULTILINE);

    @Test
    void everyCall_hasItsHeading_withItsNumber_inOrder() throws IOException {
        String doc = Files.readString(RepoFiles.root().resolve("docs/kernel-abi.md"));
        List<String> documented = new ArrayList<>();
        Matcher m = HEADING.matcher(doc);
        while (m.find()) {
            documented.add(m.group(1) + "=" + m.group(2));
        }
        List<String> expected = new ArrayList<>();
        for (Call c : Call.values()) {
            expected.add(c.abiName() + "=" + String.format(Locale.ROOT, "%02x", c.number()));
        }
        assertEquals(expected, documented, "docs/kernel-abi.md call headings drifted from Call.java");
    }

    @Test
    void everyStatus_isInTheDoc() throws IOException {
        String doc = Files.readString(RepoFiles.root().resolve("docs/kernel-abi.md"));
        for (Status s : Status.values()) {
            assertTrue(doc.contains(s.name()), s + " is not documented");
        }
    }
}
