package io.ukernel.kernel.handle;

/**
 * What one task has put in flight: the handles and bytes of the channel messages it sent that nobody has
 * received yet. They count against the sender until a receiver takes them (the handles then count in the
 * receiver's table) or they are dropped with the queue that held them:
 * <ul>
 *   <li>handles in flight count with the task's open handles against {@code limits.handles}
 *       ({@link HandleTable#room()}), so moving a handle into a queue frees no room: a task cannot park more host
 *       resources in queues than it could hold;</li>
 *   <li>queued bytes count against {@code limits.queued_bytes}, wherever the receiving end went — moving a
 *       receiving end, or nesting it in another queue, does not move the charge.</li>
 * </ul>
 * The bound therefore holds recursively: everything queued anywhere, at any depth of ends inside queues, is
 * charged to exactly one sender. When a spawned task ends, what it still has in flight is {@linkplain #forwardTo
 * forwarded} to its parent (which may then stand above its limits until the messages are received or dropped),
 * so a parent cannot multiply its budget by spawning children that send and exit. Reactor thread only.
 */
public final class Account {
    private final long byteLimit;
    private long handles;
    private long bytes;
    /** Once the owning task ended: the account that carries its charges now (its parent's). */
    private Account forward;

    public Account(long byteLimit) {
        this.byteLimit = byteLimit;
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

    /** Hands every charge to {@code heir} (the owning task ended); later releases go there too. */
    public void forwardTo(Account heir) {
        Account h = heir.current();
        if (h == this) {
            return;
        }
        h.handles += handles;
        h.bytes += bytes;
        handles = 0;
        bytes = 0;
        forward = h;
    }
}
