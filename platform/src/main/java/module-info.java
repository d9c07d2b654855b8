/** Where workers run: the platform SPI and the process platform (confinement of the host's processes). */
module io.ukernel.platform {
    requires transitive io.ukernel.abi;

    exports io.ukernel.platform.spi;
    exports io.ukernel.platform.process;
}
