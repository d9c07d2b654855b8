package io.ukernel.cli;

import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ukernel restart NAME}: stop an app of the host and boot it again. */
@Command(name = "restart", header = "Stop an app of the host and boot it again.", mixinStandardHelpOptions = true,
        description = "Stop an app of the resident host (running or ended) and boot a new instance with the same "
                + "directory, name and environment; rebuilds first when a source changed. The new instance writes "
                + "its own log (logs/console.log then points at it).")
public final class RestartCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NAME", description = "The app's name, as `ukernel ps` shows it.")
    String name;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "30",
            description = "How long the old instance gets to stop. Default: ${DEFAULT-VALUE}.")
    double timeout;

    @Override
    public Integer call() throws Exception {
        HostClient client = HostClient.local();
        if (!client.running()) {
            throw new UserError("no host is running: restart applies to apps started with `ukernel run -d`");
        }
        client.request("POST", "/apps/" + name + "/restart?timeout=" + (long) (timeout * 1000), Map.of());
        spec.commandLine().getOut().println(name);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
