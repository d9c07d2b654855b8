package io.ukernel.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** Runs a command as the user would, capturing what it prints and its exit code. */
final class CliTesting {
    record Run(int exit, String out, String err) {}

    private CliTesting() {}

    static Run run(Object command, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = new CommandLine(command).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true))
                .execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    /** Points {@link AdapterResources} at the repository's adapter, as the brief's tests do. */
    static void useRepoAdapter() {
        String repo = System.getProperty("ukernel.repo");
        if (repo != null && System.getProperty(AdapterResources.PROPERTY) == null) {
            System.setProperty(AdapterResources.PROPERTY, repo + "/python/ukernel");
        }
    }
}
