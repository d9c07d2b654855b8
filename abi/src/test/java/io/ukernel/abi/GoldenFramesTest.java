package io.ukernel.abi;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Byte-exact frames shared with the Python adapter's tests ({@code python/tests/golden_frames.json}): both codecs
 * must produce and accept exactly these bytes. The file is rendered from this list; run with
 * {@code -Dukernel.regen=true} to rewrite it after a deliberate change.
 */
class GoldenFramesTest {
    static final List<Frame> FRAMES = List.of(
            new Frame.Request(7, Call.TIME_MONOTONIC_NS),
            new Frame.Request(1, Call.HELLO, Value.of(HexFormat.of().parseHex("00112233445566778899aabbccddeeff")),
                    Value.of(Abi.VERSION)),
            new Frame.Request(2, Call.LOG_WRITE, Value.of(20), Value.of("héllo")),
            new Frame.Request(3, Call.IO_POLL, Value.of(4, 1, 5, 3), Value.of(-1)),
            new Frame.Request(-1, 0xffff, List.of()),
            Frame.Reply.ok(7, Value.of(1234567890123L)),
            Frame.Reply.ok(1, Value.of(1), Value.of(Abi.VERSION)),
            Frame.Reply.ok(9, Value.of(42), Value.of("main")),
            Frame.Reply.ok(3, Value.of(new long[0])),
            Frame.Reply.error(4, Status.ERR_DENIED),
            Frame.Reply.error(5, Status.ERR_TOOBIG),
            Frame.Reply.granted(11, Value.of(5), Value.of("127.0.0.1"), Value.of(80)),
            Frame.Reply.granted(12));

    @Test
    void goldenFile_matchesTheJavaCodec() throws IOException {
        Path file = RepoFiles.root().resolve("python/tests/golden_frames.json");
        String expected = render();
        if (Boolean.getBoolean("ukernel.regen") || !Files.exists(file)) {
            Files.writeString(file, expected);
        }
        assertEquals(expected, Files.readString(file), file + " drifted from the Java codec");
    }

    private static String render() {
        StringBuilder s = new StringBuilder("[\n");
        for (int i = 0; i < FRAMES.size(); i++) {
            Frame f = FRAMES.get(i);
            s.append("  {\"kind\": \"").append(f instanceof Frame.Request ? "request" : "reply").append("\", ");
            s.append("\"seq\": ").append(f.seq()).append(", ");
            switch (f) {
                case Frame.Request r -> s.append("\"call\": ").append(r.call());
                case Frame.Reply r -> s.append("\"status\": ")
                        .append(r.status().code() | (r.granted() ? Abi.REPLY_GRANTED : 0));
            }
            s.append(", \"values\": [");
            for (int k = 0; k < f.values().size(); k++) {
                s.append(k == 0 ? "" : ", ").append(renderValue(f.values().get(k)));
            }
            s.append("], \"hex\": \"").append(HexFormat.of().formatHex(FrameCodec.encode(f))).append("\"}");
            s.append(i + 1 < FRAMES.size() ? ",\n" : "\n");
        }
        return s.append("]\n").toString();
    }

    private static String renderValue(Value v) {
        return switch (v) {
            case Value.I64 i -> "{\"i64\": " + i.value() + "}";
            case Value.Bytes b -> "{\"bytes_hex\": \"" + HexFormat.of().formatHex(b.value()) + "\"}";
            case Value.I64s a -> {
                StringBuilder s = new StringBuilder("{\"i64s\": [");
                for (int k = 0; k < a.value().length; k++) {
                    s.append(k == 0 ? "" : ", ").append(a.value()[k]);
                }
                yield s.append("]}").toString();
            }
        };
    }
}
