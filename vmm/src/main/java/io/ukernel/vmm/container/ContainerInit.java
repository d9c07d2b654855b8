package io.ukernel.vmm.container;

import io.ukernel.app.Manifest;
import io.ukernel.app.AppKernel;
import io.ukernel.app.ManifestParser;
import io.ukernel.kernel.Kernel;
import io.ukernel.kernel.KernelClock;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.Level;
import io.ukernel.kernel.console.LineFormat;
import io.ukernel.platform.process.HostSandbox;
import io.ukernel.platform.process.ProcessPlatform;
import io.ukernel.vmm.image.ImageInfo;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import sun.misc.Signal;

/**
 * The entrypoint of an image from {@code ukernel pack --oci}: runs the kernel on the process platform, as
 * {@code ukernel run} does on a host, with the app in {@code /app} and the interpreter the image records in
 * {@code /ukernel/image.properties}. The workers get the container's environment (less the runtime's own
 * variables, such as {@code PATH} and {@code HOSTNAME}); SIGTERM and SIGINT stop the kernel cleanly (a second one
 * kills the workers). Arguments (the image's {@code CMD}, or {@code args:} in Kubernetes):
 *
 * <pre>
 *   --insecure-no-sandbox   run workers unconfined whatever [sandbox] says (the banner says so)
 *   --log-format text|json  the console's format (default text)
 *   --grace SECONDS         how long stopping tasks get before SIGKILL (default 5)
 *   --debug                 also DEBUG lines
 * </pre>
 *
 * In strict mode ({@code [sandbox]}, the default) on a container that cannot confine workers it refuses to start:
 * one line says what is missing and what to change, and it exits with {@link #EXIT_CANNOT_CONFINE}.
 */
public final class ContainerInit {
    /** The exit status when strict mode cannot be honoured here (EX_CONFIG). */
    public static final int EXIT_CANNOT_CONFINE = 78;
    /** Exit status for a bad argument or image (EX_USAGE). */
    public static final int EXIT_USAGE = 64;
    static final Path APP = Path.of("/app");
    static final Path IMAGE_INFO = Path.of("/" + ImageInfo.PATH);
    /** The runtime's variables, not the app's. */
    static final Set<String> NOT_PASSED = Set.of("PATH", "HOSTNAME", "HOME", "TERM", "LANG", "container",
            "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS");

    private ContainerInit() {}

    public static void main(String[] args) {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        int status;
        try {
            status = run(args, out);
        } catch (Exception e) {
            out.println("ukernel: the container's kernel failed: " + e);
            status = 70;
        }
        out.flush();
        System.exit(status);
    }

    static int run(String[] args, PrintStream out) throws Exception {
        boolean noSandbox = false;
        boolean debug = false;
        String format = "text";
        double grace = 5;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--insecure-no-sandbox" -> noSandbox = true;
                case "--debug" -> debug = true;
                case "--log-format" -> format = i + 1 < args.length ? args[++i] : "";
                case "--grace" -> {
                    try {
                        grace = Double.parseDouble(i + 1 < args.length ? args[++i] : "x");
                    } catch (NumberFormatException e) {
                        grace = -1;
                    }
                }
                default -> {
                    out.println("ukernel: unknown argument " + args[i] + " (the container takes --insecure-no-sandbox,"
                            + " --log-format text|json, --grace SECONDS, --debug)");
                    return EXIT_USAGE;
                }
            }
        }
        if (grace < 0) {
            out.println("ukernel: --grace must be zero or more seconds");
            return EXIT_USAGE;
        }
        LineFormat lineFormat;
        try {
            lineFormat = LineFormat.parse(format);
        } catch (IllegalArgumentException e) {
            out.println("ukernel: --log-format must be text or json, got \"" + format + "\"");
            return EXIT_USAGE;
        }
        ImageInfo info = ImageInfo.parse(Files.readAllBytes(IMAGE_INFO));
        Manifest manifest = ManifestParser.parse(APP.resolve(Manifest.FILE_NAME));
        ProcessPlatform.Sandbox sandbox = sandbox(manifest, noSandbox);
        ProcessPlatform processes = new ProcessPlatform(Path.of(info.python()), info.pythonVersion(), sandbox);
        String runtime = ContainerPlatform.detectRuntime(Path.of("/"), System.getenv());
        ContainerPlatform platform = new ContainerPlatform(processes, where(), runtime);
        KernelClock clock = KernelClock.system();
        try (Console console = Console.open(clock, lineFormat, out, null, debug)) {
            if (sandbox.strict()) {
                String refusal = refusal(processes.host(), sandbox, runtime);
                if (refusal != null) {
                    console.kernel(Level.ERROR, refusal);
                    return EXIT_CANNOT_CONFINE;
                }
            }
            Kernel kernel = AppKernel.kernel(manifest, APP, APP, environment(System.getenv()), platform, console,
                    clock, (long) (grace * 1_000_000_000L));
            for (String name : List.of("INT", "TERM")) {
                int[] count = {0};
                Signal.handle(new Signal(name), s -> {
                    if (++count[0] == 1) {
                        kernel.stop("SIG" + name + " received");
                    } else {
                        kernel.stopNow("SIG" + name + " received again");
                    }
                });
            }
            return kernel.run();
        }
    }

    /**
     * Why strict mode refuses to start here, with what to change, or null when workers can be confined as the
     * manifest asks.
     */
    static String refusal(HostSandbox h, ProcessPlatform.Sandbox sandbox, String runtime) {
        String what = null;
        if (!h.canConfine()) {
            what = "this container cannot confine workers: " + h.missing();
        } else if (sandbox.namespaces().equals("on") && !h.namespaces()) {
            what = "[sandbox] namespaces = \"on\" and this container allows none: " + h.namespacesDetail();
        }
        if (what == null) {
            return null;
        }
        String fix = ContainerPlatform.fix(h, runtime);
        return "container: [sandbox] mode = \"strict\" refuses to start: " + what + ". "
                + (fix != null ? fix + "; " : "To change: ")
                + "or run the container with --insecure-no-sandbox as its argument (workers unconfined)";
    }

    static ProcessPlatform.Sandbox sandbox(Manifest manifest, boolean noSandbox) {
        return AppKernel.sandbox(manifest, noSandbox);
    }

    /** The workers' environment: the container's, less the runtime's own variables. */
    static Map<String, String> environment(Map<String, String> container) {
        Map<String, String> env = new LinkedHashMap<>();
        container.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .filter(e -> !NOT_PASSED.contains(e.getKey()))
                .forEach(e -> env.put(e.getKey(), e.getValue()));
        return env;
    }

    private static String where() {
        String release = read(Path.of("/proc/sys/kernel/osrelease"));
        String mem = read(Path.of("/sys/fs/cgroup/memory.max"));
        String memory = mem == null || !mem.matches("max|\\d+") ? "memory limit unknown"
                : mem.equals("max") ? "no memory limit" : "memory limit " + Long.parseLong(mem) / (1024 * 1024) + " MiB";
        return String.format(Locale.ROOT, "linux %s, %d CPUs, %s, uid %d", release == null ? "?" : release,
                Runtime.getRuntime().availableProcessors(), memory, uid());
    }

    private static long uid() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return Long.parseLong(line.substring(4).strip().split("\\s+")[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // unknown
        }
        return -1;
    }

    private static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.US_ASCII).strip();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
