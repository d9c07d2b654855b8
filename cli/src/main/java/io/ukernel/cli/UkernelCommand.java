package io.ukernel.cli;

import io.ukernel.abi.Abi;
import io.ukernel.app.ManifestException;
import io.ukernel.kernel.Version;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The top-level {@code ukernel} command: a pipeline of subcommands. */
@Command(
        name = "ukernel",
        mixinStandardHelpOptions = true,
        versionProvider = UkernelCommand.VersionProvider.class,
        description = {
            "Run Python asyncio workers under a capability-secure kernel.",
            "",
            "A worker reaches the log, clocks, tasks, channels, sockets and files only through the kernel ABI, "
                    + "gated by the capabilities its ukernel.toml grants."
        },
        subcommands = {
            InitCommand.class,
            BuildCommand.class,
            PackCommand.class,
            RunCommand.class,
            LogsCommand.class,
            PsCommand.class,
            StopCommand.class,
            PushCommand.class,
            K8sCommand.class,
            RestartCommand.class,
            RmCommand.class,
            HostCommand.class,
            CompletionCommand.class,
            CommandLine.HelpCommand.class
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel init demo && cd demo   create an app",
            "  ukernel run                    build it if needed and run it; Ctrl-C stops it",
            "  ukernel logs -f                follow logs/console.log",
            "  ukernel run -d && ukernel ps   run it in the resident host; list what runs",
            "  ukernel run --vmm qemu         the same app as PID 1 of a QEMU microVM",
            "  ukernel pack                   dist/NAME.img for QEMU or Firecracker",
            "",
            "Run 'ukernel COMMAND --help' for a command's options."
        })
public final class UkernelCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** A command line with the project's error handling: one clear line, usage errors exit 2, others 1. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new UkernelCommand());
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            commandLine.getErr().println("ukernel: " + message(ex));
            if (Boolean.getBoolean("ukernel.debug")) {
                ex.printStackTrace(commandLine.getErr());
            }
            return userFacing(ex) ? 1 : 70;
        });
        return cl;
    }

    private static boolean userFacing(Exception ex) {
        return ex instanceof ManifestException || ex instanceof UserError || ex instanceof InstanceLog.Refused;
    }

    private static String message(Exception ex) {
        if (userFacing(ex)) {
            return ex.getMessage();
        }
        return "internal error: " + ex + " (rerun with JAVA_TOOL_OPTIONS=-Dukernel.debug=true for a stack trace)";
    }

    /** {@code ukernel --version}. */
    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {
                "ukernel " + Version.UKERNEL + " (ABI " + Abi.formatVersion(Abi.VERSION) + ", java "
                        + Runtime.version() + ")"
            };
        }
    }
}
