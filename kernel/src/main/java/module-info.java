/**
 * The kernel: tasks, capabilities, handles, the call table, the console, the transport. Exported: the kernel and
 * its configuration ({@code io.ukernel.kernel}), the console, and the policy it enforces; the call families,
 * handle tables, channels, sockets, files and transport are its own.
 */
module io.ukernel.kernel {
    requires transitive io.ukernel.abi;
    requires transitive io.ukernel.platform;

    exports io.ukernel.kernel;
    exports io.ukernel.kernel.console;
    exports io.ukernel.kernel.policy;
    // RawFd: the resident host hands descriptors to its warm templates (SCM_RIGHTS); nothing else is for outside
    exports io.ukernel.kernel.io to io.ukernel.cli;
}
