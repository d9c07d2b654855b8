package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.app.json.Json;
import io.ukernel.vmm.image.OciPacker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ukernel pack --oci} with real OCI tools: the image of examples/hello is reproducible (same digest twice),
 * a one-line code change gives a new last layer only, Debian's {@code skopeo} and {@code umoci} read the layout,
 * and Debian's {@code runc} runs it (as root, in a bundle made from {@code runc spec} and the image's config, no
 * network) with the heartbeats read from the host; a container whose seccomp profile hides Landlock makes strict
 * mode refuse to start, saying what to change. Each tool's test is skipped, saying so, when the tool is missing
 * ({@code .ci/run} installs them).
 */
class OciImageTest {
    static Path dir;
    static Path app;
    static OciPacker.Result packed;

    @BeforeAll
    static void pack() throws Exception {
        CliTesting.useRepoAdapter();
        dir = Files.createTempDirectory("ukernel-oci-test-");
        Path repo = Path.of(System.getProperty("ukernel.repo"));
        app = MicrovmEndToEndTest.copyOf(repo.resolve("examples/hello"), dir.resolve("hello"));
        packed = PackCommand.packOci(app, "latest", OciPacker.DEFAULT_UID, true, null);
    }

    @AfterAll
    static void cleanUp() throws Exception {
        if (dir != null) {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    static boolean onPath(String tool) {
        return Stream.of(System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":"))
                .anyMatch(d -> Files.isExecutable(Path.of(d, tool)))
                || Files.isExecutable(Path.of("/usr/sbin", tool));
    }

    record Out(int exit, String text) {}

    static Out exec(Path cwd, long timeoutSeconds, String... cmd) throws Exception {
        Path log = Files.createTempFile(dir, "exec-", ".log");
        Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        p.getOutputStream().close();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(String.join(" ", cmd) + " did not end in " + timeoutSeconds + " s:\n"
                    + Files.readString(log));
        }
        return new Out(p.exitValue(), Files.readString(log));
    }

    /** The image's config (the layout's index → manifest → config). */
    static Map<String, Object> imageConfig(Path layout) throws Exception {
        Map<String, Object> manifest = manifest(layout);
        String cfg = (String) ((Map<?, ?>) manifest.get("config")).get("digest");
        return Json.readObject(Files.readString(layout.resolve("blobs/sha256/" + cfg.substring(7))));
    }

    static Map<String, Object> manifest(Path layout) throws Exception {
        Map<String, Object> index = Json.readObject(Files.readString(layout.resolve("index.json")));
        String digest = (String) ((Map<?, ?>) ((List<?>) index.get("manifests")).get(0)).get("digest");
        return Json.readObject(Files.readString(layout.resolve("blobs/sha256/" + digest.substring(7))));
    }

    static List<String> layerDigests(Path layout) throws Exception {
        return ((List<?>) manifest(layout).get("layers")).stream().map(l -> (String) ((Map<?, ?>) l).get("digest"))
                .toList();
    }

    @Test
    void config_runsTheKernelAsNonRoot_withLabels() throws Exception {
        Map<?, ?> c = (Map<?, ?>) imageConfig(packed.layout()).get("config");
        assertEquals("65532:65532", c.get("User"));
        assertEquals(List.of("/ukernel/java/bin/java", "@/ukernel/java.args"), c.get("Entrypoint"));
        assertEquals("/", c.get("WorkingDir"));   // the class path and AOT cache are relative to /
        Map<?, ?> labels = (Map<?, ?>) c.get("Labels");
        assertEquals("hello", labels.get("org.opencontainers.image.title"));
        assertEquals(io.ukernel.abi.Abi.VERSION_MAJOR + "." + io.ukernel.abi.Abi.VERSION_MINOR, labels.get("io.ukernel.abi"));
        assertEquals("caps=LOG|TIME; sandbox=strict, namespaces=auto", labels.get("io.ukernel.policy"));
        assertEquals(List.of("java runtime", "python + libraries", "kernel", "dependencies", "app"),
                packed.layers().stream().map(l -> l.name()).toList());
        // the app layer is the small one: the bundle, not the runtime
        assertTrue(packed.layers().get(4).layer().size() < 64 * 1024, packed.layers().toString());
        assertTrue(Files.isRegularFile(packed.dockerArchive()));
    }

    @Test
    void samePack_sameDigest_andACodeChangeRebuildsOnlyTheAppLayer() throws Exception {
        List<String> before = layerDigests(packed.layout());
        // every layer compressed anew, not taken from the layer cache: the same bytes
        OciPacker.Result again = PackCommand.packOci(app, "latest", OciPacker.DEFAULT_UID, false, false, null);
        assertEquals(packed.digest(), again.digest());
        assertEquals(before, layerDigests(again.layout()));

        Path main = app.resolve("src/main.py");
        Files.writeString(main, Files.readString(main) + "# one more line\n");
        java.io.StringWriter progress = new java.io.StringWriter();
        OciPacker.Result changed = PackCommand.packOci(app, "latest", OciPacker.DEFAULT_UID, false, true,
                new java.io.PrintWriter(progress));
        List<String> after = layerDigests(changed.layout());
        assertNotEquals(packed.digest(), changed.digest());
        assertEquals(before.subList(0, 4), after.subList(0, 4), "runtime, python, kernel, dependency layers unchanged");
        assertNotEquals(before.get(4), after.get(4), "the app layer changed");
        assertEquals(4, progress.toString().lines().filter(l -> l.contains("(unchanged: cached)")).count(),
                "only the app layer compressed again:\n" + progress);
        // back to the first image, for the other tests
        Files.writeString(main, Files.readString(main).replace("# one more line\n", ""));
        assertEquals(packed.digest(), PackCommand.packOci(app, "latest", OciPacker.DEFAULT_UID, true, null).digest());
    }

    @Test
    void skopeo_readsTheLayoutAndTheDockerArchive() throws Exception {
        Assumptions.assumeTrue(onPath("skopeo"), "skopeo is not installed (apt-get install skopeo)");
        Out o = exec(app, 120, "skopeo", "inspect", "oci:" + packed.layout() + ":latest");
        assertEquals(0, o.exit(), o.text());
        Map<String, Object> j = Json.readObject(o.text());
        assertEquals(packed.digest(), j.get("Digest"));
        assertEquals(layerDigests(packed.layout()), j.get("Layers"));
        o = exec(app, 120, "skopeo", "inspect", "docker-archive:" + packed.dockerArchive());
        assertEquals(0, o.exit(), o.text());
        // a docker-archive names its layers by their uncompressed digests (the config's diff ids)
        assertEquals(((Map<?, ?>) imageConfig(packed.layout()).get("rootfs")).get("diff_ids"),
                Json.readObject(o.text()).get("Layers"));
    }

    @Test
    void umoci_unpacksARootfsWithTheKernelAndTheApp(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(onPath("umoci"), "umoci is not installed (apt-get install umoci)");
        Path bundle = tmp.resolve("bundle");
        Out o = exec(tmp, 300, "umoci", "unpack", "--rootless", "--image", packed.layout() + ":latest",
                bundle.toString());
        assertEquals(0, o.exit(), o.text());
        Path root = bundle.resolve("rootfs");
        assertTrue(Files.isExecutable(root.resolve("ukernel/java/bin/java")));
        assertTrue(Files.isRegularFile(root.resolve("app/ukernel.toml")));
        assertTrue(Files.isRegularFile(root.resolve("app/adapter/ukernel/_boot.py")));
        String args = Files.readString(root.resolve("ukernel/java.args"));
        assertTrue(args.contains("io.ukernel.vmm.container.ContainerInit"), args);
        assertTrue(args.contains("-XX:AOTCache=ukernel/kernel.aot") && Files.isRegularFile(root.resolve(
                "ukernel/kernel.aot")), args);
        assertTrue(Files.isSymbolicLink(root.resolve("ukernel/python/bin/python3")));
    }

    /**
     * A runc bundle: the rootfs {@code umoci unpack} makes, and {@code runc spec}'s config adjusted to the image's
     * entrypoint, user, environment (plus {@code extraEnv}) and working directory, {@code args} after the
     * entrypoint, a tmpfs on /tmp (the rootfs is read-only), no network (runc spec's own network namespace), and
     * {@code seccomp} when given.
     */
    static Path runcBundle(Path tmp, List<String> args, List<String> extraEnv, Map<String, Object> seccomp)
            throws Exception {
        return runcBundle(packed.layout(), tmp, args, extraEnv, seccomp, false);
    }

    static Path runcBundle(Path layout, Path tmp, List<String> args, List<String> extraEnv, Map<String, Object> seccomp,
            boolean hostNetwork) throws Exception {
        Path bundle = tmp.resolve("bundle");
        Out o = exec(tmp, 300, "umoci", "unpack", "--image", layout + ":latest", bundle.toString());
        assertEquals(0, o.exit(), o.text());
        Files.delete(bundle.resolve("config.json"));
        o = exec(bundle, 60, "runc", "spec");
        assertEquals(0, o.exit(), o.text());
        Map<String, Object> spec = Json.readObject(Files.readString(bundle.resolve("config.json")));
        Map<?, ?> image = (Map<?, ?>) imageConfig(layout).get("config");
        @SuppressWarnings("unchecked")
        Map<String, Object> process = (Map<String, Object>) spec.get("process");
        process.put("terminal", false);
        List<Object> argv = new ArrayList<>((List<?>) image.get("Entrypoint"));
        argv.addAll(args);
        process.put("args", argv);
        String[] user = ((String) image.get("User")).split(":");
        process.put("user", Map.of("uid", Long.parseLong(user[0]), "gid", Long.parseLong(user[1])));
        List<Object> env = new ArrayList<>((List<?>) image.get("Env"));
        env.addAll(extraEnv);
        process.put("env", env);
        process.put("cwd", image.get("WorkingDir"));
        @SuppressWarnings("unchecked")
        List<Object> mounts = (List<Object>) spec.get("mounts");
        Map<String, Object> tmpfs = new LinkedHashMap<>();
        tmpfs.put("destination", "/tmp");
        tmpfs.put("type", "tmpfs");
        tmpfs.put("source", "tmpfs");
        tmpfs.put("options", List.of("nosuid", "nodev", "mode=1777"));
        mounts.add(tmpfs);
        @SuppressWarnings("unchecked")
        Map<String, Object> linux = (Map<String, Object>) spec.get("linux");
        if (seccomp != null) {
            linux.put("seccomp", seccomp);
        }
        if (hostNetwork) {
            linux.put("namespaces", ((List<?>) linux.get("namespaces")).stream()
                    .filter(n -> !"network".equals(((Map<?, ?>) n).get("type"))).toList());
        }
        Files.writeString(bundle.resolve("config.json"), Json.write(spec));
        return bundle;
    }

    /** Runs the bundle under a unique container id; always deletes the container. */
    static Out runc(Path bundle) throws Exception {
        String id = containerId();
        try {
            return exec(bundle, 300, "runc", "run", "--bundle", bundle.toString(), id);
        } finally {
            exec(bundle, 60, "runc", "delete", "--force", id);
        }
    }

    static String containerId() {
        return "ukernel-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    }

    static void assumeRunc() {
        Assumptions.assumeTrue(onPath("runc"), "runc is not installed (apt-get install runc)");
        Assumptions.assumeTrue(onPath("umoci"), "umoci is not installed (apt-get install umoci)");
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "runc runs containers as root only "
                + "here (this test runs as " + System.getProperty("user.name") + ")");
    }

    @Test
    void runc_runsTheImage_theKernelConfinesWorkers_andTheHostSeesTheHeartbeats(@TempDir Path tmp) throws Exception {
        assumeRunc();
        Path bundle = runcBundle(tmp, List.of(), List.of("HEARTBEATS=3"), null);
        Out o = runc(bundle);
        assertEquals(0, o.exit(), o.text());
        String t = o.text();
        assertTrue(t.contains("platform container"), t);
        assertTrue(t.contains("OCI container (") && t.contains("uid 65532"), t);
        assertTrue(t.contains("confinement: strict:"), t);
        assertTrue(t.contains("ukernel: confined: landlock"), t);
        assertTrue(t.contains("heartbeat 1 ") && t.contains("heartbeat 3 "), t);
        assertTrue(t.contains("app hello ended with status 0"), t);
    }

    @Test
    void runc_withoutLandlock_strictRefusesToStart_sayingWhatToChange(@TempDir Path tmp) throws Exception {
        assumeRunc();
        // a seccomp profile that hides Landlock (as a runtime without it would): everything else allowed
        Map<String, Object> rule = new LinkedHashMap<>();
        rule.put("names", List.of("landlock_create_ruleset"));
        rule.put("action", "SCMP_ACT_ERRNO");
        rule.put("errnoRet", 38);   // ENOSYS
        Map<String, Object> seccomp = new LinkedHashMap<>();
        seccomp.put("defaultAction", "SCMP_ACT_ALLOW");
        seccomp.put("architectures", List.of("SCMP_ARCH_X86_64"));
        seccomp.put("syscalls", List.of(rule));
        Path bundle = runcBundle(tmp, List.of(), List.of("HEARTBEATS=1"), seccomp);
        Out o = runc(bundle);
        assertEquals(78, o.exit(), o.text());
        assertTrue(o.text().contains("[sandbox] mode = \"strict\" refuses to start: this container cannot confine "
                + "workers: no Landlock"), o.text());
        assertTrue(o.text().contains("To change:"), o.text());
        assertTrue(!o.text().contains("heartbeat 1"), o.text());

        // the same container with --insecure-no-sandbox runs the app, and the banner says it is unconfined
        Files.writeString(bundle.resolve("config.json"), Files.readString(bundle.resolve("config.json"))
                .replace("\"@/ukernel/java.args\"]", "\"@/ukernel/java.args\",\"--insecure-no-sandbox\"]"));
        o = runc(bundle);
        assertEquals(0, o.exit(), o.text());
        assertTrue(o.text().contains("UNCONFINED") && o.text().contains("heartbeat 1 "), o.text());
    }

    @Test
    void runc_echoServer_answersTheHost(@TempDir Path tmp) throws Exception {
        assumeRunc();
        Path repo = Path.of(System.getProperty("ukernel.repo"));
        Path echo = MicrovmEndToEndTest.copyOf(repo.resolve("examples/echo"), tmp.resolve("echo"));
        OciPacker.Result image = PackCommand.packOci(echo, "latest", OciPacker.DEFAULT_UID, false, null);
        // the host's network (no network namespace); port 0: the kernel picks a free one and the app logs it
        Path bundle = runcBundle(image.layout(), tmp, List.of(), List.of("PORT=0", "ECHO_LIMIT=1"), null, true);
        Path log = tmp.resolve("echo.log");
        String id = containerId();
        Process runc = new ProcessBuilder("runc", "run", "--bundle", bundle.toString(), id).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        try {
            runc.getOutputStream().close();
            java.util.regex.Matcher m = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
            java.util.regex.Pattern listening = java.util.regex.Pattern.compile(
                    "echo server listening on 127\\.0\\.0\\.1:(\\d+)");
            while (m == null && runc.isAlive() && System.nanoTime() < deadline) {
                java.util.regex.Matcher found = listening.matcher(Files.readString(log));
                if (found.find()) {
                    m = found;
                } else {
                    Thread.sleep(50);
                }
            }
            assertTrue(m != null, "the echo server did not start:\n" + Files.readString(log));
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", Integer.parseInt(m.group(1)))) {
                s.getOutputStream().write("hello from the host\n".getBytes(StandardCharsets.UTF_8));
                s.shutdownOutput();
                assertEquals("hello from the host\n", new String(s.getInputStream().readAllBytes(),
                        StandardCharsets.UTF_8));
            }
            assertTrue(runc.waitFor(300, TimeUnit.SECONDS), Files.readString(log));
            String t = Files.readString(log);
            assertEquals(0, runc.exitValue(), t);
            assertTrue(t.contains("closed after 20 bytes") && t.contains("platform container"), t);
        } finally {
            runc.destroyForcibly();
            exec(bundle, 60, "runc", "delete", "--force", id);
        }
    }

    @Test
    void push_copiesTheImageToALocalRegistry_andAgainSendsOnlyWhatChanged(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(onPath("skopeo"), "skopeo is not installed (apt-get install skopeo)");
        Assumptions.assumeTrue(onPath("docker-registry"), "no local registry (apt-get install docker-registry)");
        int port;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        }
        Files.writeString(tmp.resolve("registry.yml"), "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: "
                + tmp.resolve("store") + "\nhttp:\n  addr: 127.0.0.1:" + port + "\n");
        Process registry = new ProcessBuilder("docker-registry", "serve", tmp.resolve("registry.yml").toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("registry.log").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            boolean up = false;
            while (!up && registry.isAlive() && System.nanoTime() < deadline) {
                try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
                    up = true;
                } catch (java.io.IOException notYet) {
                    Thread.sleep(50);
                }
            }
            assertTrue(up, "the registry did not start:\n" + Files.readString(tmp.resolve("registry.log")));
            String ref = "127.0.0.1:" + port + "/hello:test";
            CliTesting.Run r = CliTesting.run(new PushCommand(), ref, app.toString(), "--insecure");
            assertEquals(0, r.exit(), r.out() + r.err());
            assertTrue(r.out().contains("Pushed hello to " + ref), r.out());
            Out o = exec(tmp, 120, "skopeo", "inspect", "--tls-verify=false", "docker://" + ref);
            assertEquals(0, o.exit(), o.text());
            assertEquals(packed.digest(), Json.readObject(o.text()).get("Digest"), "the registry holds the image as packed");
            assertEquals(6, uploads(tmp.resolve("registry.log")), "five layers and the config uploaded");

            // a one-line change: a new app layer; the registry already has the other four
            Path main = app.resolve("src/main.py");
            String before = Files.readString(main);
            Files.writeString(main, before + "# pushed again\n");
            try {
                r = CliTesting.run(new PushCommand(), ref, app.toString(), "--insecure");
                assertEquals(0, r.exit(), r.out() + r.err());
                assertEquals(6 + 2, uploads(tmp.resolve("registry.log")), "only the app layer and the config uploaded:\n"
                        + r.out());
            } finally {
                Files.writeString(main, before);
            }
        } finally {
            registry.destroy();
            registry.waitFor(30, TimeUnit.SECONDS);
            registry.destroyForcibly();
        }
    }

    /** Blob uploads the registry's access log shows. */
    static long uploads(Path registryLog) throws Exception {
        return Files.readAllLines(registryLog).stream().filter(l -> l.contains("\"POST /v2/hello/blobs/uploads/ HTTP"))
                .count();
    }

    /**
     * Podman as a second runtime, with its own default seccomp profile (which refuses sethostname in the worker's
     * UTS namespace: the jail goes on without it). The ulimits fit hosts whose hard limits are below Podman's
     * defaults (this one: 20000 files).
     */
    @Test
    void podman_runsTheLayoutDirectly_workersConfined() throws Exception {
        Assumptions.assumeTrue(onPath("podman"), "podman is not installed (apt-get install podman)");
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "podman runs containers as root only "
                + "here");
        Out o = exec(app, 600, "podman", "run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit",
                "nproc=4096:4096", "-e", "HEARTBEATS=2", "oci:" + packed.layout() + ":latest");
        String t = o.text();
        assertEquals(0, o.exit(), t);
        assertTrue(t.contains("platform container") && t.contains("OCI container (Podman;"), t);
        assertTrue(t.contains("ukernel: confined: landlock"), t);
        assertTrue(t.contains("heartbeat 2 ") && t.contains("app hello ended with status 0"), t);
    }
}
