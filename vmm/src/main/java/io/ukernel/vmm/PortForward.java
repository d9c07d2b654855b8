package io.ukernel.vmm;

/**
 * A published port: TCP connections to {@code 127.0.0.1:hostPort} on the host reach {@code guestPort} in the
 * guest ({@code ukernel run -p HOST:GUEST}). Host ports are bound on loopback only.
 *
 * @param hostPort  the host's port, 1..65535
 * @param guestPort the guest's port, 1..65535
 */
public record PortForward(int hostPort, int guestPort) {
    public PortForward {
        check(hostPort, "host");
        check(guestPort, "guest");
    }

    /**
     * Parses {@code HOST:GUEST} or {@code PORT} (the same port on both sides).
     *
     * @throws IllegalArgumentException with a message fit for the user
     */
    public static PortForward parse(String text) {
        String t = text.strip();
        int colon = t.indexOf(':');
        try {
            if (colon < 0) {
                int p = Integer.parseInt(t);
                return new PortForward(p, p);
            }
            return new PortForward(Integer.parseInt(t.substring(0, colon)), Integer.parseInt(t.substring(colon + 1)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-p takes HOST:GUEST ports, e.g. -p 8080:80, got \"" + text + "\"");
        }
    }

    private static void check(int port, String side) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("the " + side + " port must be 1..65535, got " + port);
        }
    }

    @Override
    public String toString() {
        return "127.0.0.1:" + hostPort + "->" + guestPort;
    }
}
