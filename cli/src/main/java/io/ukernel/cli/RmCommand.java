package io.ukernel.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ukernel rm NAME...}: forget ended apps of the host. */
@Command(name = "rm", header = "Forget ended apps of the host.", mixinStandardHelpOptions = true,
        description = "Remove ended apps from the resident host's list (`ukernel ps -a`); their log files stay in "
                + "the app's logs/ directory. A running app is refused unless -f, which stops it first.")
public final class RmCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "NAME", description = "The apps' names.")
    List<String> names = new ArrayList<>();

    @Option(names = {"-f", "--force"}, description = "Stop a running app first.")
    boolean force;

    @Override
    public Integer call() throws Exception {
        HostClient client = HostClient.local();
        if (!client.running()) {
            throw new UserError("no host is running: rm applies to apps started with `ukernel run -d`");
        }
        for (String name : names) {
            client.request("DELETE", "/apps/" + name + (force ? "?force=1" : ""), null);
            spec.commandLine().getOut().println(name);
        }
        spec.commandLine().getOut().flush();
        return 0;
    }
}
