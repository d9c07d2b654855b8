/**
 * The app project: the manifest ({@code ukernel.toml}) and its one translation into the kernel's policy, the
 * environment file, the project template, the bundle format, and the one JSON codec. The TOML reader is internal.
 */
module io.ukernel.app {
    requires transitive io.ukernel.kernel;

    exports io.ukernel.app;
    exports io.ukernel.app.bundle;
    exports io.ukernel.app.json;
}
