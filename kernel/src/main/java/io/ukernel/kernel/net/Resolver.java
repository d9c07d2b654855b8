package io.ukernel.kernel.net;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;

/**
 * Turns a host name into addresses. Called off the reactor thread (it may block on DNS); injected so tests resolve
 * names without a name server.
 */
@FunctionalInterface
public interface Resolver {
    /** The host's resolver ({@code /etc/hosts}, then DNS). */
    Resolver SYSTEM = name -> List.of(InetAddress.getAllByName(name));

    /** The addresses of {@code name}, in the host's order of preference. */
    List<InetAddress> resolve(String name) throws UnknownHostException;
}
