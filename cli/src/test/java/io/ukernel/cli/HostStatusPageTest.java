package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.app.json.Json;
import java.awt.image.BufferedImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The host's metrics and status page from a real host ({@code ukernel host --http 127.0.0.1:0}) running a real
 * confined app: {@code /metrics} parses as Prometheus text and counts the app's calls and its denial; the page,
 * loaded in headless Chromium (Debian's {@code chromium}; .ci/run installs it), renders the app's row and is not
 * blank; the TCP listener refuses to run or stop anything.
 */
class HostStatusPageTest {
    private static final int HANG_S = 180;

    @TempDir
    Path tmp;
    Process host;

    @BeforeAll
    static void adapter() {
        CliTesting.useRepoAdapter();
    }

    @AfterEach
    void stopHost() throws Exception {
        if (host != null && host.isAlive()) {
            host.destroy();                      // SIGTERM: the host stops its apps, then itself
            if (!host.waitFor(HANG_S, TimeUnit.SECONDS)) {
                host.destroyForcibly();
            }
        }
    }

    static String chromium() {
        for (String c : List.of("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")) {
            if (Files.isExecutable(Path.of(c))) {
                return c;
            }
        }
        throw new AssertionError("headless Chromium is needed: apt-get install -y chromium (.ci/run installs it)");
    }

    @Test
    void metricsCountTheAppsCalls_andThePageShowsItInChromium() throws Exception {
        String chromium = chromium();
        Path home = tmp.resolve("uk");
        Path app = tmp.resolve("pageapp");
        assertEquals(0, CliTesting.run(new UkernelCommand(), "init", "pageapp", "--dir", app.toString()).exit());
        Files.writeString(app.resolve("src/main.py"), """
                import asyncio
                import ukernel

                async def main():
                    try:
                        ukernel.time_monotonic_ns()          # TIME not acquired yet: denied, and counted
                    except ukernel.KernelError:
                        pass
                    ukernel.cap_acquire(ukernel.Cap.LOG, ukernel.Cap.TIME)
                    n = 0
                    while True:
                        n += 1
                        ukernel.info(f"beat {n}")
                        await asyncio.sleep(0.2)
                """);

        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                "-D" + AdapterResources.PROPERTY + "=" + System.getProperty(AdapterResources.PROPERTY),
                "io.ukernel.cli.Main", "host", "--http", "127.0.0.1:0"));
        Path out = tmp.resolve("host.out");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
        pb.environment().put(Host.ENV_HOME, home.toString());
        host = pb.start();
        Matcher port = await(out, Pattern.compile("status page on http://127\\.0\\.0\\.1:(\\d+)/"));
        String base = "http://127.0.0.1:" + port.group(1);
        Path socket = home.resolve("host.sock");

        HostHttp.Response created = HostHttp.call(socket, "POST", "/apps",
                Json.write(Map.of("dir", app.toString(), "name", "page-app")));
        assertEquals(201, created.status(), created.bodyText());
        String logPath = (String) Json.readObject(created.bodyText()).get("log");
        PipelineEndToEndTest.awaitLog(Path.of(logPath), "beat 2", HANG_S);

        // /metrics over the socket: the grammar holds, and the app's calls and its denial are counted
        HostHttp.Response metrics = HostHttp.call(socket, "GET", "/metrics", null);
        assertTrue(metrics.contentType().startsWith("text/plain; version=0.0.4"), metrics.contentType());
        List<Map<String, String>> samples = HostApiTest.parseExposition(metrics.bodyText());
        assertTrue(value(samples, "ukernel_calls_total", "page-app", "main", "log") >= 2, metrics.bodyText());
        assertTrue(value(samples, "ukernel_calls_total", "page-app", "main", "meta") >= 1, metrics.bodyText());
        assertEquals(1, value(samples, "ukernel_denials_total", "page-app", "main", null), metrics.bodyText());
        assertEquals(1, value(samples, "ukernel_app_up", "page-app", null, null));
        assertTrue(samples.stream().anyMatch(s -> s.get("__name__").equals("ukernel_task_resident_bytes")
                && Double.parseDouble(s.get("__value__")) > 1 << 20), "the worker's RSS from /proc");

        // the TCP listener is read-only
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create(base + "/host/stop"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(403, post.statusCode(), post.body());
        HttpResponse<String> viaTcp = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, viaTcp.statusCode());

        // headless Chromium: the DOM has the app's row, the screenshot is not blank
        Path profile = Files.createDirectories(tmp.resolve("chromium-profile"));
        List<String> browser = List.of(chromium, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + profile,
                "--virtual-time-budget=3000");
        String dom = runBrowser(concat(browser, "--dump-dom", base + "/"), tmp.resolve("dom.out"));
        assertTrue(dom.contains("<tr class=\"app\" data-name=\"page-app\">"), dom);
        assertTrue(dom.contains("<td>page-app</td><td>running</td>"), dom);
        assertTrue(dom.contains("main#1 running"), dom);
        assertTrue(dom.contains("beat "), "the live log tail was fetched: " + dom);

        Path shot = tmp.resolve("page.png");
        runBrowser(concat(browser, "--screenshot=" + shot, "--window-size=1024,600", base + "/"),
                tmp.resolve("shot.out"));
        BufferedImage image = ImageIO.read(shot.toFile());
        assertEquals(1024, image.getWidth());
        Set<Integer> colors = new HashSet<>();
        int dark = 0;
        for (int y = 0; y < image.getHeight(); y += 2) {
            for (int x = 0; x < image.getWidth(); x += 2) {
                int rgb = image.getRGB(x, y) & 0xffffff;
                colors.add(rgb);
                if (((rgb >> 16) & 0xff) + ((rgb >> 8) & 0xff) + (rgb & 0xff) < 200) {
                    dark++;
                }
            }
        }
        assertTrue(colors.size() > 20, "a blank screenshot (" + colors.size() + " colours)");
        assertTrue(dark > 500, "no text or table drawn (" + dark + " dark pixels)");
    }

    private static List<String> concat(List<String> a, String... more) {
        List<String> all = new ArrayList<>(a);
        all.addAll(List.of(more));
        return all;
    }

    private static String runBrowser(List<String> cmd, Path output) throws Exception {
        Path err = output.resolveSibling(output.getFileName() + ".err");
        Process p = new ProcessBuilder(cmd).redirectOutput(output.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(HANG_S, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("chromium hung: " + Files.readString(err));
        }
        assertEquals(0, p.exitValue(), "chromium failed: " + Files.readString(err));
        return Files.readString(output, StandardCharsets.UTF_8);
    }

    private static double value(List<Map<String, String>> samples, String name, String app, String task,
            String family) {
        double sum = 0;
        boolean found = false;
        for (Map<String, String> s : samples) {
            if (s.get("__name__").equals(name) && app.equals(s.get("app"))
                    && (task == null || task.equals(s.get("task")))
                    && (family == null || family.equals(s.get("family")))) {
                sum += Double.parseDouble(s.get("__value__"));
                found = true;
            }
        }
        if (!found) {
            throw new AssertionError("no sample " + name + " for " + app + "/" + task + "/" + family);
        }
        return sum;
    }

    private static Matcher await(Path file, Pattern p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_S);
        while (System.nanoTime() < deadline) {
            if (Files.exists(file)) {
                Matcher m = p.matcher(Files.readString(file));
                if (m.find()) {
                    return m;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no " + p + " in " + file + ":\n" + (Files.exists(file) ? Files.readString(file) : ""));
    }
}
