package io.ukernel.vmm.guest;

import io.ukernel.vmm.NetConfig;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Brings up the guest's network with interface ioctls on an {@code AF_INET} socket, as {@code ifconfig} and
 * {@code route} do: loopback up (Linux then gives it 127.0.0.1/8), and, when the VM has a network device, the
 * virtio modules loaded, {@code eth0} addressed, up, and a default route through the gateway.
 */
final class Network {
    /** {@code sizeof(struct ifreq)}: the name, then a union whose first member is a {@code struct sockaddr}. */
    private static final int IFREQ = 40;
    /** {@code sizeof(struct rtentry)} on 64-bit Linux. */
    private static final int RTENTRY = 120;

    private Network() {}

    /** Sets {@code lo} up. */
    static void loopback() throws IOException {
        up("lo");
    }

    /**
     * Loads {@code modules} (each with its {@code name.param=value} parameters from the kernel command line, as
     * modprobe would pass them), waits for {@code eth0} and configures it.
     */
    static void ethernet(NetConfig net, List<String> modules, String cmdline) throws IOException {
        for (String m : modules) {
            Linux.loadModule(m, moduleParams(m, cmdline));
        }
        Path eth0 = Path.of("/sys/class/net/eth0");
        long deadline = System.nanoTime() + 3_000_000_000L;
        while (!Files.exists(eth0)) {
            if (System.nanoTime() > deadline) {
                throw new IOException("no network device eth0 appeared (modules: " + modules + ")");
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted waiting for eth0");
            }
        }
        int fd = Linux.inetSocket();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment req = ifreq(a, "eth0");
            sockaddrIn(req.asSlice(16, 16), NetConfig.bytes(net.address()));
            Linux.ioctl(fd, Linux.SIOCSIFADDR, req, "SIOCSIFADDR eth0 " + net.address());
            req = ifreq(a, "eth0");
            sockaddrIn(req.asSlice(16, 16), net.netmask());
            Linux.ioctl(fd, Linux.SIOCSIFNETMASK, req, "SIOCSIFNETMASK eth0 /" + net.prefix());
        } finally {
            Linux.close(fd);
        }
        up("eth0");
        fd = Linux.inetSocket();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment rt = a.allocate(RTENTRY, 8);
            sockaddrIn(rt.asSlice(8, 16), new byte[4]);                            // rt_dst 0.0.0.0
            sockaddrIn(rt.asSlice(24, 16), NetConfig.bytes(net.gateway()));       // rt_gateway
            sockaddrIn(rt.asSlice(40, 16), new byte[4]);                          // rt_genmask 0.0.0.0
            rt.set(ValueLayout.JAVA_SHORT, 56, (short) (Linux.RTF_UP | Linux.RTF_GATEWAY));
            Linux.ioctl(fd, Linux.SIOCADDRT, rt, "SIOCADDRT default via " + net.gateway());
        } finally {
            Linux.close(fd);
        }
    }

    private static void up(String iface) throws IOException {
        int fd = Linux.inetSocket();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment req = ifreq(a, iface);
            Linux.ioctl(fd, Linux.SIOCGIFFLAGS, req, "SIOCGIFFLAGS " + iface);
            short flags = req.get(ValueLayout.JAVA_SHORT, 16);
            req.set(ValueLayout.JAVA_SHORT, 16, (short) (flags | Linux.IFF_UP));
            Linux.ioctl(fd, Linux.SIOCSIFFLAGS, req, "SIOCSIFFLAGS " + iface + " up");
        } finally {
            Linux.close(fd);
        }
    }

    private static MemorySegment ifreq(Arena a, String name) {
        MemorySegment req = a.allocate(IFREQ, 8);
        byte[] n = name.getBytes(StandardCharsets.US_ASCII);
        req.asSlice(0, n.length).copyFrom(MemorySegment.ofArray(n));
        return req;
    }

    /** A {@code struct sockaddr_in}: family (host order), port 0, the address (network order). */
    private static void sockaddrIn(MemorySegment s, byte[] address) {
        s.fill((byte) 0);
        s.set(ValueLayout.JAVA_SHORT, 0, (short) Linux.AF_INET);
        s.asSlice(4, 4).copyFrom(MemorySegment.ofArray(address));
    }

    /** {@code virtio_mmio.device=4K@0xd0000000:5 ...} on the command line → {@code device=4K@0xd0000000:5}. */
    static String moduleParams(String modulePath, String cmdline) {
        String name = modulePath.substring(modulePath.lastIndexOf('/') + 1);
        int ko = name.indexOf(".ko");
        name = (ko >= 0 ? name.substring(0, ko) : name).replace('-', '_');
        StringBuilder b = new StringBuilder();
        for (String w : cmdline.strip().split("\\s+")) {
            int dot = w.indexOf('.');
            if (dot > 0 && w.substring(0, dot).replace('-', '_').equals(name) && w.indexOf('=') > dot) {
                if (!b.isEmpty()) {
                    b.append(' ');
                }
                b.append(w.substring(dot + 1));
            }
        }
        return b.toString();
    }
}
