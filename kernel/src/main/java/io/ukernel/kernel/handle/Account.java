package io.ukernel.kernel.handle;

/**
 * What one task makes the kernel hold beyond its handle table: the handles and bytes of the channel messages it
 * sent that nobody has received yet, and the bytes buffered in the kernel for the sockets it created. They count against the sender until a receiver takes them (the handles then count in the
 * receiver's table) or they are dropped with the queue that held them:
 * <ul>
 *   <li>handles in flight count with the task's open handles against {@code limits.handles}
 *       ({@link HandleTable#room()}), so moving a handle into a queue frees no room: a task cannot park more host
 *       resources in queues than it could hold;</li>
 *   <li>queued bytes count against {@code limits.queued_bytes}, wherever the receiving end went — moving a
 *       receiving end, or nesting it in another queue, does not move the charge.</li>
 * </ul>
 * Socket buffers (send and receive queues of the sockets the task created with {@code net_socket} or
 * {@code net_accept}, wherever their handles went, and the unsent bytes of closed sockets still lingering) count
 * against {@code limits.net_bytes}: at the bound sends take nothing and the kernel stops reading those sockets
 * from the host until some buffer drains ({@link #awaitNetRoom}).
 *
 * <p>The bound therefore holds recursively: everything queued anywhere, at any depth of ends inside queues, is
 * charged to exactly one sender. When a spawned task ends, what it still has in flight is {@linkplain #forwardTo
 * forwarded} to its parent (which may then stand above its limits until the messages are received or dropped),
 * so a parent cannot multiply its budget by spawning children that send and exit. Reactor thread only.
 */
public final class Account {
    private final long byteLimit;
    private final long netLimit;
    private long handles;
    private long bytes;
    private long netBytes;
    /** Told once when net room frees up (sockets that stopped for want of it), by identity. */
    private final java.util.Set<Runnable> netWaiters = new java.util.LinkedHashSet<>();
    /** Every live socket stream charged here, told when the room runs out (their WRITABLE goes), by identity. */
    private final java.util.Set<Runnable> netMembers = new java.util.LinkedHashSet<>();
    /** Once the owning task ended: the account that carries its charges now (its parent's). */
    private Account forward;
    /** The owning task's table (set by it), for the handle room of what the kernel holds on the task's behalf. */
    private HandleTable table;

    /** An account with {@code limits.queued_bytes} = {@code byteLimit} and no bound on socket buffers (tests). */
    public Account(long byteLimit) {
        this(byteLimit, Long.MAX_VALUE);
    }

    public Account(long byteLimit, long netLimit) {
        this.byteLimit = byteLimit;
        this.netLimit = netLimit;
    }

    /** The account that holds this one's charges now (itself unless forwarded). */
    public Account current() {
        Account a = this;
        while (a.forward != null) {
            a = a.forward;
        }
        if (forward != null && forward != a) {
            forward = a; // path compression: a long line of ended generations is walked once
        }
        return a;
    }

    /** Handles sent and not yet received. */
    public long handles() {
        return current().handles;
    }

    /** Message bytes (with their fixed overhead) sent and not yet received. */
    public long bytes() {
        return current().bytes;
    }

    public long byteLimit() {
        return byteLimit;
    }

    /** Whether {@code cost} more bytes fit under {@code limits.queued_bytes}. */
    public boolean bytesFit(long cost) {
        Account a = current();
        return a.bytes + cost <= a.byteLimit;
    }

    /** Charges a message that was just queued. */
    public void charge(int handleCount, long cost) {
        Account a = current();
        a.handles += handleCount;
        a.bytes += cost;
    }

    /** Releases a message that was received or dropped. */
    public void release(int handleCount, long cost) {
        Account a = current();
        a.handles -= handleCount;
        a.bytes -= cost;
        assert a.handles >= 0 && a.bytes >= 0 : "released more than charged";
    }

    void table(HandleTable t) {
        table = t;
    }

    /**
     * How many more handles the task may hold ({@link HandleTable#room}), for objects the kernel takes on its
     * behalf before it asks (connections a listener queues ahead of {@code net_accept}).
     */
    public long handleRoom() {
        Account a = current();
        return a.table == null ? Long.MAX_VALUE : a.table.room();
    }

    /** Whether {@code other} is charged here (the same task, or one whose charges were forwarded here). */
    public boolean same(Account other) {
        return current() == other.current();
    }

    /** Bytes buffered for this task's sockets. */
    public long netBytes() {
        return current().netBytes;
    }

    /** How many more socket bytes this task may buffer under {@code limits.net_bytes} (never negative). */
    public long netRoom() {
        Account a = current();
        return Math.max(0, a.netLimit - a.netBytes);
    }

    public long netLimit() {
        return current().netLimit;
    }

    /** Charges socket bytes just buffered; when that uses the last room, every socket of the task is told. */
    public void chargeNet(long n) {
        Account a = current();
        boolean hadRoom = a.netBytes < a.netLimit;
        a.netBytes += n;
        if (hadRoom && a.netBytes >= a.netLimit) {
            for (Runnable r : a.netMembers.toArray(new Runnable[0])) {
                r.run();
            }
        }
    }

    /** A socket stream charged here from now on; {@code changed} re-evaluates its readiness. */
    public void joinNet(Runnable changed) {
        current().netMembers.add(changed);
    }

    /** The stream is gone (closed for good). */
    public void leaveNet(Runnable changed) {
        Account a = current();
        a.netMembers.remove(changed);
        a.netWaiters.remove(changed);
    }

    /** Releases socket bytes no longer buffered; wakes the sockets waiting for room once there is some. */
    public void releaseNet(long n) {
        if (n == 0) {
            return;
        }
        Account a = current();
        a.netBytes -= n;
        assert a.netBytes >= 0 : "released more socket bytes than charged";
        if (a.netBytes < a.netLimit && !a.netWaiters.isEmpty()) {
            Runnable[] wake = a.netWaiters.toArray(new Runnable[0]);
            a.netWaiters.clear();
            for (Runnable r : wake) {
                r.run();
            }
        }
    }

    /** Runs {@code wake} once, the next time socket room frees up (registering twice is once). */
    public void awaitNetRoom(Runnable wake) {
        current().netWaiters.add(wake);
    }

    /** Hands every charge to {@code heir} (the owning task ended); later releases go there too. */
    public void forwardTo(Account heir) {
        Account h = heir.current();
        if (h == this) {
            return;
        }
        h.handles += handles;
        h.bytes += bytes;
        h.netBytes += netBytes;
        h.netWaiters.addAll(netWaiters);
        h.netMembers.addAll(netMembers);
        netMembers.clear();
        handles = 0;
        bytes = 0;
        netBytes = 0;
        netWaiters.clear();
        forward = h;
    }
}
