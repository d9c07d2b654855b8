/** The {@code ukernel} command. Exports nothing; picocli reads its commands by reflection. */
module io.ukernel.cli {
    requires io.ukernel.vmm;
    requires info.picocli;
    requires java.management;
    requires jdk.unsupported; // sun.misc.Signal: Ctrl-C of a foreground run

    opens io.ukernel.cli to info.picocli;
}
