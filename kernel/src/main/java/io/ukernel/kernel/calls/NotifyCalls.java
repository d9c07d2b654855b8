package io.ukernel.kernel.calls;

import io.ukernel.abi.Cap;
import io.ukernel.abi.Status;
import io.ukernel.kernel.KernelContext;
import io.ukernel.kernel.Reactor;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.caps.CapabilitySet;
import io.ukernel.kernel.caps.TaskCaps;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.Level;
import io.ukernel.kernel.io.Notif;
import io.ukernel.kernel.net.AddressRules;
import io.ukernel.kernel.net.Hosts;
import io.ukernel.kernel.net.SocketSupervisor;
import io.ukernel.kernel.policy.PolicyHints;
import io.ukernel.platform.spi.Worker;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * {@code sandbox_notify}: a confined worker of a root kernel hands over its seccomp notification descriptor (by
 * number; the kernel copies it with {@code pidfd_getfd}), and the kernel starts the worker's
 * {@link SocketSupervisor}, which decides the {@code connect}/{@code bind}/{@code listen}/{@code accept} calls of
 * the sockets the worker's own code makes: the NET capability, {@code [caps.net]} (the same rules as
 * {@code net_connect}/{@code net_bind}; a loopback address {@code 127.0.0.1} or {@code ::1} also matches rules that
 * say {@code localhost}, as the worker's {@code /etc/hosts} does) and the task's handle room.
 */
final class NotifyCalls {
    private static final String SECCOMP_NOTIFY = "anon_inode:seccomp notify";

    private final AddressRules bindRules;
    private final AddressRules connectRules;
    private final Console console;
    private final PolicyHints hints;
    private final Reactor reactor;
    /** The worker process each task's supervisor watches (a restarted task is supervised again). */
    private final Map<Task, Long> supervised = new java.util.WeakHashMap<>();
    /** Each task's supervisor (its current worker's). */
    private final Map<Task, SocketSupervisor> supervisors = new java.util.WeakHashMap<>();

    NotifyCalls(KernelContext ctx) {
        this.hints = ctx.policy().hints();
        this.bindRules = AddressRules.parse(ctx.policy().net().bind());
        this.connectRules = AddressRules.parse(ctx.policy().net().connect());
        this.console = ctx.console();
        this.reactor = ctx.reactor();
    }

    Outcome sandboxNotify(Task task, Args args) {
        long fd = args.i64(0);
        Worker w = task.worker();
        if (w == null || w.pid() <= 0 || !Notif.available()) {
            return Outcome.err(Status.ERR_UNSUPPORTED, "this kernel cannot supervise the worker's sockets");
        }
        if (fd < 0 || fd > Integer.MAX_VALUE) {
            return Outcome.err(Status.ERR_INVAL, "descriptor " + fd);
        }
        long pid = workerProcess(w.pid());
        if (pid <= 0 || Long.valueOf(pid).equals(supervised.get(task))) {
            return Outcome.err(Status.ERR_INVAL, "the worker's sockets are already supervised, or its process is"
                    + " not known");
        }
        int pidfd = Notif.pidfdOpen(pid);
        if (pidfd < 0) {
            return Outcome.err(Status.ERR_IO, "pidfd_open(" + pid + "): errno " + -pidfd);
        }
        int listener = Notif.pidfdGetfd(pidfd, (int) fd);
        if (listener < 0 || !SECCOMP_NOTIFY.equals(link(listener))) {
            if (listener >= 0) {
                Notif.close(listener);
            }
            Notif.close(pidfd);
            return Outcome.err(Status.ERR_INVAL, "descriptor " + fd + " of the worker is not its seccomp listener");
        }
        supervised.put(task, pid);
        SocketSupervisor s = new SocketSupervisor(listener, pidfd, pid, authority(task), reactor::execute);
        supervisors.put(task, s);
        s.start(task.label());
        console.audit(task.name(), task.id(), Level.DEBUG, "net.notify", "the sockets this worker makes itself are"
                + " supervised: connect, bind, listen and accept are decided by the kernel (seccomp user notification)");
        return Outcome.ok();
    }

    /**
     * {@code NET} left the task's active set ({@code cap_drop}): the sockets its worker made itself are shut down,
     * as its granted ones are closed. Returns how many.
     */
    int revoke(Task task) {
        SocketSupervisor s = supervisors.get(task);
        return s == null ? 0 : s.revokeAll();
    }

    /** The process that runs the app: P's only child with namespaces (C), else P itself. */
    private static long workerProcess(long p) {
        List<ProcessHandle> kids = ProcessHandle.of(p).map(h -> h.children().toList()).orElse(List.of());
        return kids.size() == 1 ? kids.get(0).pid() : kids.isEmpty() ? p : -1;
    }

    private static String link(int fd) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        } catch (IOException e) {
            return null;
        }
    }

    private SocketSupervisor.Authority authority(Task task) {
        return new SocketSupervisor.Authority() {
            @Override
            public int decide(String call, InetAddress ip, int port, int live) {
                String target = ip == null ? "" : " " + Hosts.hostPort(ip, port);
                if (task.state() == Task.State.EXITED) {
                    return Notif.EPERM;
                }
                if (!task.caps().active().has(Cap.NET)) {
                    // As the adapter does for asyncio's sockets (ensure_caps): NET within the ceiling is acquired
                    // on first use; a task that dropped it, or was never granted it, is refused.
                    if (!(task.caps().acquire(new CapabilitySet(Cap.NET.bit()))
                            instanceof TaskCaps.Acquire.Granted)) {
                        console.audit(task.name(), task.id(), Level.WARN, "net.denied", call + "(2)" + target
                                + " denied: NET is not within this task's capabilities (" + hints.grantForAcquire() + ")");
                        return Notif.EPERM;
                    }
                    console.audit(task.name(), task.id(), Level.INFO, "cap.acquire", "caps: acquired NET for a"
                            + " socket the worker made itself (active " + task.caps().active() + ")");
                }
                if (ip != null) {
                    boolean connect = call.equals("connect");
                    String name = ip.isLoopbackAddress() && (ip.getHostAddress().equals("127.0.0.1")
                            || ip.getHostAddress().equals("0:0:0:0:0:0:0:1")) ? "localhost" : null;
                    if (!(connect ? connectRules : bindRules).allows(name, ip, port)) {
                        String list = connect ? "connect" : "bind";
                        String rule = (name != null ? "localhost:" + port : Hosts.hostPort(ip, port));
                        console.audit(task.name(), task.id(), Level.WARN, "net.denied", call + "(2)" + target
                                + " denied: no net." + list + " rule matches; " + hints.allowAddress(list, rule));
                        return Notif.EPERM;
                    }
                }
                if (!call.equals("listen") && task.handles().room() - live <= 0) {
                    console.audit(task.name(), task.id(), Level.WARN, "limit", call + "(2)" + target
                            + " refused (EMFILE): the task holds " + live + " sockets it made and "
                            + task.handles().size() + " handles; limits.handles is " + task.handles().limit());
                    return Notif.EMFILE;
                }
                return 0;
            }

            @Override
            public void performed(String call, String what, boolean routine) {
                console.audit(task.name(), task.id(), routine ? Level.DEBUG : Level.INFO, "net.notify", call + "(2): "
                        + what + " (performed by the kernel on its own socket)");
            }
        };
    }
}
