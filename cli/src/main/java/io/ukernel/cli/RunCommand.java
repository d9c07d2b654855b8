package io.ukernel.cli;

import io.ukernel.app.EnvFile;
import io.ukernel.app.EnvFileException;
import io.ukernel.app.Manifest;
import io.ukernel.kernel.Kernel;
import io.ukernel.kernel.KernelClock;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.LineFormat;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import sun.misc.Signal;

/** {@code ukernel run}: build when stale, boot the kernel, run the app's tasks, exit with the main task's status. */
@Command(
        name = "run",
        header = "Boot the kernel and run the app (process platform or a microVM).",
        mixinStandardHelpOptions = true,
        description = {
            "Boot the kernel and run the app: builds build/bundle.tgz first when a source changed, extracts it to "
                    + "build/root, starts the main task (and tasks declared with start = \"boot\"), and streams the "
                    + "console to the terminal and to this run's own log, logs/<instance>/console.log "
                    + "(logs/console.log links to the latest run's; the last 10 runs are kept, each rotated at "
                    + "10 MiB).",
            "",
            "With -d the app runs in the resident host instead (see `ukernel host --help`): the command prints "
                    + "the run's name and returns.",
            "",
            "Ctrl-C (SIGINT) or SIGTERM stops the tasks: each gets SIGTERM, then SIGKILL after the grace period. "
                    + "The exit status is the main task's (143 when it was stopped by SIGTERM; 130 after Ctrl-C)."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel run                         run the app in the current directory",
            "  ukernel run examples/hello -e HEARTBEATS=3",
            "  ukernel run --log-format json       one JSON object per console line",
            "  ukernel run --insecure-no-sandbox   workers unconfined (the banner says so)",
            "  ukernel run --env-file prod.env --grace 10",
            "  ukernel run -e API_TOKEN            pass this shell's API_TOKEN to the workers",
            "  ukernel run -d --name web examples/web   in the host; then ukernel ps, logs web, stop web"
        })
public final class RunCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "DIR", description = "The app directory (default: .)")
    Path dir = Path.of(".");

    @Option(names = {"-e", "--env"}, paramLabel = "KEY[=VALUE]",
            description = "Set an environment variable for the workers (repeatable; overrides env/ukernel.env and "
                    + "--env-file). A bare KEY passes this shell's value of KEY.")
    List<String> env = new ArrayList<>();

    @Option(names = "--env-file", paramLabel = "FILE",
            description = "Also read variables from FILE, after env/ukernel.env (repeatable; a later file's value "
                    + "wins).")
    List<Path> envFiles = new ArrayList<>();

    @Option(names = "--log-format", paramLabel = "FORMAT", defaultValue = "text",
            description = "Console line format: text (readable prefix) or json (one object per line). "
                    + "Default: ${DEFAULT-VALUE}.")
    String logFormat;

    @Option(names = "--grace", paramLabel = "SECONDS", defaultValue = "5",
            description = "Seconds a stopping task gets between SIGTERM and SIGKILL. Default: ${DEFAULT-VALUE}.")
    double graceSeconds;

    @Option(names = {"-d", "--detach"},
            description = "Run the app in the resident host (`ukernel host`, started on demand) and return at once, "
                    + "printing the run's name. `ukernel ps`, `logs NAME`, `stop NAME` follow it.")
    boolean detach;

    @Option(names = "--name", paramLabel = "NAME", defaultValue = "",
            description = "With -d: the run's name (default: the app's name, or NAME-2, NAME-3... when taken).")
    String name;

    @Option(names = "--rm", description = "With -d: forget the run when it ends (no `ukernel rm` needed).")
    boolean rm;

    @Option(names = {"-q", "--quiet"}, description = "Write the console to logs/console.log only, not the terminal.")
    boolean quiet;

    @Option(names = "--debug", description = "Also show DEBUG lines (connections, refused calls).")
    boolean debug;

    @Option(names = "--insecure-no-sandbox",
            description = "Run the workers unconfined (no Landlock, no seccomp), whatever [sandbox] mode says: "
                    + "they can then reach the host's files, network and processes directly. The boot banner says so.")
    boolean insecureNoSandbox;

    // microVM platform (MicrovmRun): the options below apply with --vmm qemu|firecracker.
    @Option(names = "--vmm", paramLabel = "VMM", defaultValue = "none",
            description = "Run in a microVM: qemu (QEMU -M microvm; KVM when it works, else emulation) or firecracker. "
                    + "Packs dist/NAME.img first when stale. Default: none (the process platform).")
    String vmm;

    @Option(names = "--real", description = "Run under Firecracker (same as --vmm firecracker).")
    boolean real;

    @Option(names = "--cpus", paramLabel = "N", defaultValue = "1", description = "microVM vCPUs. Default: ${DEFAULT-VALUE}.")
    int cpus;

    @Option(names = "--memory", paramLabel = "MIB", defaultValue = "512",
            description = "microVM memory, MiB (or 1G). Default: ${DEFAULT-VALUE}.")
    String memory;

    @Option(names = "--no-snapshot", description = "With --vmm: boot cold even when a snapshot (ukernel pack "
            + "--snapshot) matches the image.")
    boolean noSnapshot;

    @Option(names = {"-p", "--publish"}, paramLabel = "HOST:GUEST",
            description = "Publish a guest TCP port on 127.0.0.1:HOST (repeatable; microVM only).")
    List<String> publish = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        if (real || !vmm.equals("none")) {
            String which = real ? "firecracker" : vmm;
            if (!which.equals("qemu") && !which.equals("firecracker")) {
                throw new UserError("--vmm must be qemu or firecracker, got \"" + vmm + "\"");
            }
            return new MicrovmRun(this, spec.commandLine().getErr(), System.out).call(which);
        }
        if (noSnapshot) {
            throw new UserError("--no-snapshot is for a microVM run: add --vmm qemu or --vmm firecracker");
        }
        if (!publish.isEmpty()) {
            throw new UserError("-p publishes a microVM's port: add --vmm qemu (on the process platform the app "
                    + "binds host ports itself, as its [caps.net] bind list allows)");
        }
        if (detach) {
            return new DetachedRun(this, spec.commandLine().getOut(), spec.commandLine().getErr()).call();
        }
        if (!name.isEmpty() || rm) {
            throw new UserError((rm ? "--rm" : "--name") + " names or removes a run of the host: add -d");
        }
        LineFormat format = parseFormat(logFormat);
        if (graceSeconds < 0) {
            throw new UserError("--grace must be zero or more seconds, got " + graceSeconds);
        }
        PrintWriter out = spec.commandLine().getErr();
        AppLaunch.Prepared prepared = AppLaunch.prepare(dir, out);
        Path app = prepared.app();
        Manifest manifest = prepared.manifest();
        Map<String, String> environment = environment(app, envFiles, env);

        KernelClock clock = KernelClock.system();
        try (InstanceLog log = InstanceLog.create(app, manifest.name(), clock.wallNs() / 1_000_000);
                Console console = Console.toStream(clock, format, quiet ? null : System.out, log.stream(), debug)) {
            Kernel kernel = AppLaunch.kernel(prepared, environment, console, clock, graceSeconds, insecureNoSandbox);
            java.util.concurrent.atomic.AtomicBoolean interrupted = new java.util.concurrent.atomic.AtomicBoolean();
            installSignalHandlers(kernel, interrupted);
            try (RunRegistry.Registration _ = RunRegistry.register(manifest.name(), "process", "", app, "")) {
                int status = kernel.run();
                // Ctrl-C: the shell's convention (128 + SIGINT), whatever status the stopped main task had.
                return interrupted.get() ? 130 : status;
            }
        }
    }

    static LineFormat parseFormat(String name) throws UserError {
        try {
            return LineFormat.parse(name);
        } catch (IllegalArgumentException e) {
            throw new UserError("--log-format must be text or json, got \"" + name + "\"");
        }
    }

    /**
     * The workers' environment, later sources winning: {@code env/ukernel.env}, each {@code --env-file} in order,
     * each {@code -e}. Shared by both platforms.
     */
    static Map<String, String> environment(Path app, List<Path> envFiles, List<String> env)
            throws UserError, IOException {
        return environment(app, envFiles, env, System.getenv());
    }

    /** As above, a bare {@code -e KEY} taking its value from {@code shellEnv} (the client's, in the host). */
    static Map<String, String> environment(Path app, List<Path> envFiles, List<String> env,
            Map<String, String> shellEnv) throws UserError, IOException {
        Map<String, String> vars = new LinkedHashMap<>();
        try {
            vars.putAll(EnvFile.parse(app.resolve(EnvFile.PATH)));
            for (Path file : envFiles) {
                vars.putAll(EnvFile.parseRequired(file));
            }
            vars.putAll(EnvFile.parseOptions(env, shellEnv));
        } catch (EnvFileException e) {
            throw new UserError(e.getMessage(), e);
        }
        return vars;
    }

    /** SIGINT and SIGTERM stop the kernel cleanly; a second one kills the workers at once. */
    private static void installSignalHandlers(Kernel kernel, java.util.concurrent.atomic.AtomicBoolean interrupted) {
        for (String name : List.of("INT", "TERM")) {
            Signal.handle(new Signal(name), new java.util.function.Consumer<Signal>() {
                private int count;

                @Override
                public void accept(Signal s) {
                    count++;
                    if (name.equals("INT")) {
                        interrupted.set(true);
                    }
                    if (count == 1) {
                        kernel.stop("SIG" + name + " received");
                    } else {
                        kernel.stopNow("SIG" + name + " received again");
                    }
                }
            }::accept);
        }
    }
}
