package io.ukernel.kernel;

/** The ukernel release. */
public final class Version {
    /** Kept equal to the Maven project version and the Python adapter's {@code __version__} by tests. */
    public static final String UKERNEL = "0.1.0";

    private Version() {}
}
