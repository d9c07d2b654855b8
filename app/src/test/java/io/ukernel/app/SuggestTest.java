package io.ukernel.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;

class SuggestTest {
    @Test
    void closest_transpositionIsOneEdit() {
        assertEquals(1, Suggest.distance("grnat", "grant"));
        assertEquals("grant", Suggest.closest("grnat", List.of("grant", "net", "io")));
    }

    @Test
    void closest_caseInsensitive() {
        assertEquals("NET", Suggest.closest("nett", List.of("LOG", "NET")));
    }

    @Test
    void closest_farWordsGetNoSuggestion() {
        assertNull(Suggest.closest("memory", List.of("tasks", "handles")));
        assertNull(Suggest.closest("x", List.of("io")));
    }
}
