package io.ukernel.app.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void json_roundTrips() {
        Object v = Json.read("{\"a\":[1,2.5,true,null,\"x\\n\\u00e9\"],\"b\":{}}");
        assertEquals("{\"a\":[1,2.5,true,null,\"x\\n\u00e9\"],\"b\":{}}", Json.write(v));
        assertThrows(IllegalArgumentException.class, () -> Json.read("{\"a\":1,\"a\":2}"));
        assertThrows(IllegalArgumentException.class, () -> Json.read("{\"a\":1} x"));
    }

    /** The bundle's index and adapter metadata: equal content, equal bytes, whatever the insertion order. */
    @Test
    void writeSorted_isTheBundlesFixedLayout() {
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("z", 1L);
        inner.put("a", "q\"\\\n");
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("files", inner);
        m.put("empty", Map.of());
        m.put("n", 7);
        assertEquals("{\n  \"empty\": {},\n  \"files\": {\n    \"a\": \"q\\\"\\\\\\n\",\n    \"z\": 1\n  },\n  \"n\": 7\n}\n",
                Json.writeSorted(m));
        assertEquals(Map.of("a", "q\"\\\n"), Json.readStrings(Json.writeSorted(inner)));
        assertThrows(IllegalArgumentException.class, () -> Json.writeSorted(Map.of("x", true)));
        assertThrows(IllegalArgumentException.class, () -> Json.readStrings("[1]"));
    }

    /** One escaper (the console's): no character a reader would act on stays raw, and reading gives it back. */
    @Test
    void strings_escapeControlsAndBidi_andReadBack() {
        String s = "a\u0001\u007f\u0085\u202e\u2028b";
        String w = Json.write(Map.of("s", s));
        assertEquals("{\"s\":\"a\\u0001\\u007f\\u0085\\u202e\\u2028b\"}", w);
        assertEquals(Map.of("s", s), Json.readObject(w));
    }
}
