package io.ukernel.cli;

import picocli.CommandLine;

/** Entry point of the {@code ukernel} command. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        System.exit(UkernelCommand.commandLine().execute(args));
    }
}
