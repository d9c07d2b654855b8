package io.ukernel.kernel.console;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class LineFormatTest {
    final ConsoleLine line = new ConsoleLine(12_345_678_901L, 1_700_000_000_123L, "main", 1, Level.INFO, "cap.acquire",
            "say \"hi\"\tnow");

    @Test
    void text_hasSecondsSinceBoot_taskNameAndId_andLevel() {
        assertEquals("[   12.345678] main#1 INFO  say \"hi\"\\tnow", LineFormat.TEXT.render(line),
                "a tab is shown escaped, like every control character");
    }

    @Test
    void json_isOneEscapedObject() {
        assertEquals("{\"t\":12.345678,\"wall_ms\":1700000000123,\"task\":\"main\",\"tid\":1,\"level\":\"INFO\","
                + "\"event\":\"cap.acquire\",\"msg\":\"say \\\"hi\\\"\\tnow\"}", LineFormat.JSON.render(line));
    }
}
