package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.app.json.Json;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The host's API without sockets: HTTP parsing, request bodies, routes, and the metrics format. */
class HostApiTest {
    static HostHttp.Request parse(String raw) throws Exception {
        return HostHttp.read(new ByteArrayInputStream(raw.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void request_lineHeadersQueryAndBody() throws Exception {
        HostHttp.Request r = parse("POST /apps/my%20app/logs?tail=5&x=a%26b HTTP/1.1\r\nHost: u\r\n"
                + "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}trailing");
        assertEquals("POST", r.method());
        assertEquals("/apps/my app/logs", r.path());
        assertEquals(Map.of("tail", "5", "x", "a&b"), r.query());
        assertEquals("application/json", r.headers().get("content-type"));
        assertEquals("{\"a\":1}", r.bodyText(), "the body is Content-Length bytes, no more");
        assertEquals(5, r.intParam("tail", -1));
        assertEquals(-1, r.intParam("missing", -1));
        assertThrows(HostHttp.BadRequest.class, () -> parse("GET /?tail=x HTTP/1.1\r\n\r\n").intParam("tail", 0));
    }

    @Test
    void request_malformedOnesAreRefusedWithAReason() {
        assertEquals("empty request", assertThrows(HostHttp.BadRequest.class, () -> parse("")).getMessage());
        assertThrows(HostHttp.BadRequest.class, () -> parse("GET /\r\n\r\n"));
        assertThrows(HostHttp.BadRequest.class, () -> parse("GET / HTTP/1.1\r\nno colon\r\n\r\n"));
        assertTrue(assertThrows(HostHttp.BadRequest.class, () -> parse(
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")).getMessage().contains("Content-Length"));
        assertThrows(HostHttp.BadRequest.class, () -> parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort"));
        assertThrows(HostHttp.BadRequest.class, () -> parse("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"));
        assertThrows(HostHttp.BadRequest.class, () -> parse("GET / HTTP/1.1\r\nHost: u\r\n"));   // cut short
        assertThrows(HostHttp.BadRequest.class, () -> parse("GET / HTTP/1.1\r\nX: "
                + "a".repeat(HostHttp.MAX_HEAD) + "\r\n\r\n"));
    }

    @Test
    void response_roundTrip() throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        HostHttp.write(b, HostHttp.Response.json(409, "{\"message\":\"taken\"}"));
        String raw = b.toString(StandardCharsets.UTF_8);
        assertTrue(raw.startsWith("HTTP/1.1 409 Conflict\r\n"), raw);
        assertTrue(raw.contains("Content-Length: 20\r\n"), raw);
        HostHttp.Response r = HostHttp.readResponse(new ByteArrayInputStream(b.toByteArray()));
        assertEquals(409, r.status());
        assertEquals("application/json", r.contentType());
        assertEquals("taken", Json.readObject(r.bodyText()).get("message"));
    }

    @Test
    void runRequest_fieldsAndTheirErrors() throws Exception {
        Host.RunRequest r = HostApi.runRequest("{\"dir\":\"/srv/app\",\"name\":\"web\",\"env\":{\"A\":\"1\"},"
                + "\"rm\":true,\"grace\":2.5}");
        assertEquals("/srv/app", r.dir());
        assertEquals("web", r.name());
        assertEquals(Map.of("A", "1"), r.env());
        assertTrue(r.rm());
        assertFalse(r.insecureNoSandbox());
        assertEquals(2.5, r.graceSeconds());
        assertEquals("", HostApi.runRequest("{\"dir\":\"/a\"}").name());
        for (String bad : List.of("[]", "{}", "{\"dir\":\"relative\"}", "{\"dir\":\"/a\",\"env\":{\"A\":1}}",
                "{\"dir\":\"/a\",\"rm\":\"yes\"}", "{\"dir\":\"/a\",\"grace\":-1}", "{\"dir\":\"/a\",\"name\":3}",
                "not json")) {
            assertThrows(HostHttp.BadRequest.class, () -> HostApi.runRequest(bad), bad);
        }
    }

    @Test
    void routes_onAnEmptyHost() throws Exception {
        boolean[] stopped = {false};
        HostApi api = new HostApi(new Host(), () -> stopped[0] = true);
        assertEquals("[]\n", api.handle(parse("GET /apps HTTP/1.1\r\n\r\n"), false).bodyText());
        HostHttp.Response missing = api.handle(parse("GET /apps/nope/logs HTTP/1.1\r\n\r\n"), false);
        assertEquals(404, missing.status());
        assertTrue(missing.bodyText().contains("no app named nope (the host runs no apps)"), missing.bodyText());
        assertEquals(404, api.handle(parse("GET /nothing HTTP/1.1\r\n\r\n"), false).status());
        assertEquals(405, api.handle(parse("PUT /apps HTTP/1.1\r\n\r\n"), false).status());
        assertEquals(400, api.handle(parse("POST /apps HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"), false).status());
        HostHttp.Response noApp = api.handle(parse(
                "POST /apps HTTP/1.1\r\nContent-Length: 22\r\n\r\n{\"dir\":\"/no/such/app\"}"), false);
        assertEquals(409, noApp.status());
        assertTrue(noApp.bodyText().contains("has no ukernel.toml"), noApp.bodyText());
        // the loopback TCP listener only reads: no runs, no stops
        HostHttp.Response ro = api.handle(parse("POST /host/stop HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"), true);
        assertEquals(403, ro.status());
        assertFalse(stopped[0]);
        assertEquals(200, api.handle(parse("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"), true).status());
        HostHttp.Response page = api.handle(parse("GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"), true);
        assertTrue(page.contentType().startsWith("text/html"));
        assertTrue(page.bodyText().contains("No apps"), page.bodyText());
        assertEquals(200, api.handle(parse("POST /host/stop HTTP/1.1\r\n\r\n"), false).status());
        assertTrue(stopped[0]);
    }

    /**
     * Red team: DNS rebinding. A page of attacker.example re-points its name at 127.0.0.1 and reads the TCP
     * listener from the operator's browser (same origin as far as the browser knows): every app's logs, the
     * metrics. The browser sends the attacker's name in Host; the listener must refuse it (the Unix socket,
     * which no browser reaches, answers the same request).
     */
    @Test
    void tcpListener_refusesAForeignHostName_dnsRebinding() throws Exception {
        HostApi api = new HostApi(new Host(), () -> { });
        for (String path : List.of("/metrics", "/apps", "/", "/host", "/apps/web/logs?tail=20")) {
            String raw = "GET " + path + " HTTP/1.1\r\nHost: attacker.example:8080\r\n\r\n";
            HostHttp.Response unix = api.handle(parse(raw), false);
            assertTrue(unix.status() != 403, path + ": the Unix socket answers: " + unix.bodyText());
            HostHttp.Response tcp = api.handle(parse(raw), true);
            assertEquals(403, tcp.status(), path + ": " + tcp.bodyText());
            assertTrue(tcp.bodyText().contains("not a loopback name"), tcp.bodyText());
            assertFalse(tcp.bodyText().contains("ukernel_"), tcp.bodyText()); // no metrics in the refusal
        }
        for (String host : List.of("127.0.0.1:8080", "127.0.0.1", "localhost:1", "LOCALHOST", "[::1]:8080", "[::1]",
                "127.1.2.3:65535")) {
            assertEquals(200, api.handle(parse("GET /metrics HTTP/1.1\r\nHost: " + host + "\r\n\r\n"), true)
                    .status(), host);
        }
        for (String host : List.of("attacker.example", "127.0.0.1.attacker.example", "localhost.attacker.example",
                "127.0.0.1:80@attacker.example", "[::1].attacker.example", "127.0.0.256", "0.0.0.0:8080",
                "localhost:8080:1", "")) {
            assertEquals(403, api.handle(parse("GET /metrics HTTP/1.1\r\nHost: " + host + "\r\n\r\n"), true)
                    .status(), host);
        }
        assertEquals(403, api.handle(parse("GET /metrics HTTP/1.1\r\n\r\n"), true).status()); // no Host at all
    }

    // ---- Prometheus text format, checked by a parser of the exposition grammar

    private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern SAMPLE = Pattern.compile(
            "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\\\n]|\\\\[\\\\\"n])*)\"");

    /** Parses exposition text; fails on any line outside the grammar or a sample before its family's TYPE. */
    static List<Map<String, String>> parseExposition(String text) {
        Map<String, String> types = new LinkedHashMap<>();
        Set<String> helped = new HashSet<>();
        Set<String> finished = new HashSet<>();
        String current = null;
        List<Map<String, String>> samples = new ArrayList<>();
        assertTrue(text.endsWith("\n"), "the text ends with a newline");
        for (String line : text.split("\n")) {
            if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
                String[] p = line.split(" ", 4);
                assertTrue(NAME.matcher(p[2]).matches(), line);
                assertFalse(finished.contains(p[2]), "family " + p[2] + " split in two groups");
                if (current != null && !current.equals(p[2])) {
                    finished.add(current);
                }
                current = p[2];
                if (p[1].equals("HELP")) {
                    assertTrue(helped.add(p[2]), "two HELP lines for " + p[2]);
                } else {
                    assertTrue(Set.of("counter", "gauge", "histogram", "summary", "untyped").contains(p[3]), line);
                    assertTrue(types.put(p[2], p[3]) == null, "two TYPE lines for " + p[2]);
                }
                continue;
            }
            assertFalse(line.startsWith("#"), "stray comment " + line);
            Matcher m = SAMPLE.matcher(line);
            assertTrue(m.matches(), "not a sample line: " + line);
            String name = m.group(1);
            assertEquals(current, name, "sample outside its family's group: " + line);
            assertTrue(types.containsKey(name) && helped.contains(name), "no HELP/TYPE before " + line);
            if (types.get(name).equals("counter")) {
                assertTrue(name.endsWith("_total"), "a counter's name ends in _total: " + name);
            }
            Map<String, String> s = new LinkedHashMap<>();
            s.put("__name__", name);
            s.put("__value__", m.group(4));
            if (m.group(3) != null) {
                String labels = m.group(3);
                Matcher l = LABEL.matcher(labels);
                int pos = 0;
                while (pos < labels.length()) {
                    assertTrue(l.find(pos) && l.start() == pos, "bad labels in " + line);
                    s.put(l.group(1), l.group(2).replace("\\n", "\n").replace("\\\"", "\"").replace("\\\\", "\\"));
                    pos = l.end();
                    if (pos < labels.length()) {
                        assertEquals(',', labels.charAt(pos), line);
                        pos++;
                    }
                }
            }
            samples.add(s);
        }
        return samples;
    }

    @Test
    void prometheus_groupsFamilies_andEscapesLabelsAndHelp() {
        Prometheus p = new Prometheus();
        p.family("x_calls_total", "counter", "Calls, by \\ family\nsecond line.");
        p.family("x_up", "gauge", "Up.");
        String weird = "a\"b\\c\nd";
        p.sample("x_up", 1, "app", "one");
        p.sample("x_calls_total", 3, "app", weird, "family", "net");
        p.sample("x_up", 0, "app", weird);
        p.sample("x_calls_total", 1.5, "app", "one", "family", "log");
        String text = p.toString();
        assertTrue(text.contains("# HELP x_calls_total Calls, by \\\\ family\\nsecond line.\n"), text);
        List<Map<String, String>> samples = parseExposition(text);
        assertEquals(4, samples.size());
        assertEquals(weird, samples.get(0).get("app"), "label values round-trip through the escaping");
        assertEquals("3", samples.get(0).get("__value__"));
        assertEquals("1.5", samples.get(1).get("__value__"));
        assertThrows(IllegalStateException.class, () -> p.sample("undeclared", 1));
        // and the grammar check can fail: a sample before its TYPE, a split family
        assertThrows(AssertionError.class, () -> parseExposition("x 1\n"));
        assertThrows(AssertionError.class, () -> parseExposition(
                "# HELP a A\n# TYPE a gauge\na 1\n# HELP b B\n# TYPE b gauge\nb 1\na 2\n"));
        assertThrows(AssertionError.class, () -> parseExposition("# HELP a A\n# TYPE a gauge\na{l=\"x\"y\"} 1\n"));
    }

    @Test
    void metrics_ofAnEmptyHost_parse() {
        String text = new HostApi(new Host(), () -> { }).metrics();
        List<Map<String, String>> samples = parseExposition(text);
        assertEquals(1, samples.size());
        assertEquals("ukernel_host_apps", samples.getFirst().get("__name__"));
        assertEquals("0", samples.getFirst().get("__value__"));
    }

    // ---- per-instance logs

    @Test
    void instanceLogs_neverShareAFile_latestIsLinked_rotatedBySize_oldInstancesPruned(@TempDir Path app)
            throws Exception {
        InstanceLog a = InstanceLog.create(app, "demo", 1_000);
        InstanceLog b = InstanceLog.create(app, "demo", 2_000, 64);
        assertFalse(a.dir().equals(b.dir()));
        Path latest = app.resolve("logs/console.log");
        assertTrue(Files.isSymbolicLink(latest));
        assertEquals(b.log().toRealPath(), latest.toRealPath());
        a.stream().write("run a\n".getBytes());
        a.stream().flush();
        for (int i = 0; i < 20; i++) {
            b.stream().write(("line " + i + " of run b, long enough\n").getBytes());
            b.stream().flush();
        }
        assertEquals("run a\n", Files.readString(a.log()), "an overlapping run's log is its own");
        assertTrue(Files.exists(b.dir().resolve("console.log.1")));
        assertTrue(Files.exists(b.dir().resolve("console.log.3")));
        assertFalse(Files.exists(b.dir().resolve("console.log.4")), "only the last 3 rotated files are kept");
        assertTrue(Files.readString(b.dir().resolve("console.log.1")).endsWith("\n"), "rotated at line ends");
        assertEquals(1000, ((Number) Json.readObject(Files.readString(a.dir().resolve("instance.json")))
                .get("boot_wall_ms")).longValue());
        b.close();
        for (int i = 0; i < InstanceLog.KEEP_INSTANCES + 2; i++) {
            InstanceLog.create(app, "demo", 10_000 + i * 1000L).close();
        }
        assertTrue(Files.exists(a.dir()), "an instance still written is never pruned");
        assertFalse(Files.exists(b.dir()), "an ended old instance is pruned");
        a.close();
    }

    @Test
    void logsTimes_fromTheInstanceBoot() {
        assertEquals(5_500, LogsCommand.wallMs("[    4.500000] main#1 INFO  x", 1_000));
        assertEquals(Long.MIN_VALUE, LogsCommand.wallMs("continued", 1_000));
        assertEquals(1234, LogsCommand.wallMs("{\"t\":0.1,\"wall_ms\":1234,\"task\":\"m\"}", -1));
        assertEquals(1_000_000 - 600_000, LogsCommand.parseSince("10m", 1_000_000));
        assertEquals(0, LogsCommand.parseSince("1970-01-01T00:00:00Z", 5));
        assertThrows(IllegalArgumentException.class, () -> LogsCommand.parseSince("yesterday", 0));
    }
}
