package io.ukernel.kernel.transport;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Call;
import io.ukernel.abi.Decoded;
import io.ukernel.abi.Frame;
import io.ukernel.abi.FrameCodec;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Reactor;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.io.RawFd;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.Optional;

/**
 * One worker's ABI connection: decodes every whole frame a read brings (a batch), serves each in order, and
 * writes all the replies with one write (decoder → handler → encoder, as in Netty). The first frame must be
 * {@code hello} with the task's token. Owned by the reactor thread.
 *
 * <p><b>Reply back-pressure.</b> A worker that pipelines requests and never reads the replies must not make the
 * kernel buffer them without bound. Once {@link #REPLY_BACKLOG} bytes of replies wait to be written, the
 * connection serves no further frame and stops reading (its OP_READ interest is dropped): the requests wait in the
 * worker's socket, where the host bounds them. It resumes once the backlog drained below half of that. No reply is
 * lost; a worker that does not read simply stops being served. The bytes held are therefore at most the backlog,
 * plus one reply (at most {@link Abi#MAX_FRAME_BYTES} and a header), plus the replies of the task's parked calls
 * completing meanwhile (bounded by {@link Abi#MAX_PARKED_CALLS}), plus one frame being read.
 *
 * <p><b>Granted descriptors (ABI 1.1).</b> A granted reply takes the descriptor its task staged
 * ({@link Task#takeGrant}) and records where its first byte sits in the stream of replies. Replies are still
 * written in batches, but a batch is cut at each such mark: the bytes before it go with a plain write, and the
 * reply's bytes (up to the next mark) with one {@code sendmsg} carrying the descriptor as {@code SCM_RIGHTS}, so
 * the worker has the descriptor no later than the first byte of the reply that announces it, and never sooner
 * than the replies before it. The connection owns each duplicate until it is sent (then closes its copy) or the
 * connection closes.
 */
public final class Connection implements Reactor.Handler {
    private static final int INITIAL_BUFFER = 64 * 1024;
    /** Unwritten reply bytes beyond which the connection stops serving (and reading) requests. */
    public static final int REPLY_BACKLOG = 256 * 1024;
    /** Where a paused connection resumes. */
    static final int REPLY_RESUME = REPLY_BACKLOG / 2;

    private final SocketChannel channel;
    private final Session session;
    private SelectionKey key;
    private ByteBuffer in = ByteBuffer.allocate(INITIAL_BUFFER).order(ByteOrder.LITTLE_ENDIAN);
    private ByteBuffer out = ByteBuffer.allocate(INITIAL_BUFFER).order(ByteOrder.LITTLE_ENDIAN);
    private Task task;
    private boolean closeAfterFlush;
    private boolean closed;
    private String closeReason = "closed by the worker";
    private boolean protocolError;
    /** Serving stopped because too many replies wait to be written (see the class comment). */
    private boolean paused;
    /** Whether the session was told of a pause already (once per connection: a console line, not a flood). */
    private boolean toldStall;
    /** Where {@code out[0]} sits in the stream of reply bytes (everything before was written). */
    private long written;
    /** Granted replies not sent yet, in stream order: the first byte's stream position and the descriptor. */
    private final ArrayDeque<long[]> grants = new ArrayDeque<>();

    Connection(SocketChannel channel, Session session) {
        this.channel = channel;
        this.session = session;
    }

    void registered(SelectionKey k) {
        this.key = k;
    }

    /** The task bound by hello, or null. */
    public Task task() {
        return task;
    }

    @Override
    public void ready(SelectionKey k) throws IOException {
        if (k.isValid() && k.isWritable()) {
            flush();
            if (paused && out.position() < REPLY_RESUME && !closed) {
                resume();
            }
        }
        if (k.isValid() && k.isReadable() && !paused && !closed) {
            read();
        }
    }

    /** Serves the frames read before the pause, then reads again (unless the backlog filled up once more). */
    private void resume() {
        paused = false;
        in.flip();
        serveFrames();
        in.compact();
        flush();
    }

    private void read() throws IOException {
        int n;
        try {
            n = channel.read(in);
        } catch (IOException e) {
            close("read failed: " + e.getMessage(), false);
            return;
        }
        if (n < 0) {
            close(closeReason, false);
            return;
        }
        in.flip();
        serveFrames();
        in.compact();
        flush();
    }

    private void serveFrames() {
        while (!closeAfterFlush && !closed) {
            if (out.position() >= REPLY_BACKLOG) {
                // The worker is not reading its replies: stop serving it until they drain (flush sets interest).
                paused = true;
                if (!toldStall && task != null) {
                    toldStall = true;
                    session.stalled(task, out.position());
                }
                return;
            }
            switch (FrameCodec.decodeRequest(in)) {
                case Decoded.Whole<Frame.Request> w -> {
                    in.position(in.position() + w.consumed());
                    serve(w.frame());
                }
                case Decoded.NeedMore<Frame.Request> ignored -> {
                    growFor(in);
                    return;
                }
                case Decoded.Malformed<Frame.Request> m -> {
                    if (!m.recoverable() || task == null) {
                        close("protocol error: " + m.reason(), true);
                        return;
                    }
                    in.position(in.position() + m.consumed());
                    enqueue(Frame.Reply.error(m.seq(), Status.ERR_INVAL));
                }
            }
        }
    }

    private void serve(Frame.Request request) {
        if (task == null) {
            hello(request);
            return;
        }
        Frame.Reply reply = session.dispatch(task, request);
        if (reply != null) {
            enqueue(reply);
        }
        if (task.requestedExit() != null) {
            closeReason = "task_exit(" + task.requestedExit() + ")";
            closeAfterFlush = true;
        }
    }

    private void hello(Frame.Request request) {
        boolean shaped = request.call() == Call.HELLO.number()
                && FrameCodec.checkSignature(Call.HELLO.args(), request.values()) == null;
        if (shaped && ((Value.I64) request.values().get(1)).value() >>> 16 != Abi.VERSION_MAJOR) {
            enqueue(Frame.Reply.error(request.seq(), Status.ERR_INVAL));
            closeReason = "hello from ABI " + Abi.formatVersion(((Value.I64) request.values().get(1)).value())
                    + "; this kernel speaks ABI " + Abi.formatVersion(Abi.VERSION);
            protocolError = true;
            closeAfterFlush = true;
            return;
        }
        Optional<Task> bound = Optional.empty();
        if (shaped) {
            byte[] token = ((Value.Bytes) request.values().get(0)).value();
            bound = session.attach(HexFormat.of().formatHex(token), this);
        }
        if (bound.isEmpty()) {
            enqueue(Frame.Reply.error(request.seq(), Status.ERR_DENIED));
            closeReason = shaped ? "hello with an unknown token" : "first frame was not hello";
            protocolError = true;
            closeAfterFlush = true;
            return;
        }
        task = bound.get();
        enqueue(Frame.Reply.ok(request.seq(), Value.of(task.id()), Value.of(Abi.VERSION)));
    }

    /** Grows the read buffer when the frame at its position is larger than it (length already bounded). */
    private void growFor(ByteBuffer buf) {
        if (buf.remaining() < 4) {
            return;
        }
        int need = 4 + buf.getInt(buf.position());
        if (need > buf.capacity()) {
            ByteBuffer bigger = ByteBuffer.allocate(need).order(ByteOrder.LITTLE_ENDIAN);
            bigger.put(buf);
            bigger.flip();
            in = bigger;
        }
    }

    /**
     * Sends a reply outside a read (a parked call completing): queued and flushed at once. It never serves
     * further requests here (that would re-enter whatever completed the call); a paused connection resumes
     * from {@link #ready}.
     */
    public void replyNow(Frame.Reply reply) {
        if (!closed) {
            enqueue(reply);
            flush();
        }
    }

    /** Queues a frame (reply) for the next flush. */
    public void enqueue(Frame frame) {
        if (frame instanceof Frame.Reply r && r.granted()) {
            int fd = task == null ? -1 : task.takeGrant();
            if (fd < 0) { // a handler marked a reply without staging a descriptor: a bug, never a lost descriptor
                frame = Frame.Reply.error(r.seq(), Status.ERR_IO);
            } else {
                grants.add(new long[] {written + out.position(), fd});
            }
        }
        int size = FrameCodec.size(frame);
        if (out.remaining() < size) {
            ByteBuffer bigger = ByteBuffer.allocate(Math.max(out.capacity() * 2, out.position() + size))
                    .order(ByteOrder.LITTLE_ENDIAN);
            out.flip();
            bigger.put(out);
            out = bigger;
        }
        FrameCodec.encode(frame, out);
    }

    /** Writes what is queued; waits for writability when the socket is full. */
    public void flush() {
        if (closed) {
            return;
        }
        out.flip();
        try {
            if (grants.isEmpty()) {
                channel.write(out);
            } else {
                writeGranted();
            }
        } catch (IOException e) {
            out.clear();
            close("write failed: " + e.getMessage(), false);
            return;
        }
        written += out.position();
        boolean pending = out.hasRemaining();
        out.compact();
        // A paused connection keeps OP_WRITE even when all is written: the writable event is where it resumes.
        key.interestOps((paused ? 0 : SelectionKey.OP_READ) | (pending || paused ? SelectionKey.OP_WRITE : 0));
        if (!pending && closeAfterFlush) {
            close(closeReason, protocolError);
        }
    }

    /** Writes {@code out} (flipped) cut at the granted replies' marks; stops when the socket is full. */
    private void writeGranted() throws IOException {
        while (out.hasRemaining()) {
            int before = out.position();
            long[] g = grants.peek();
            int limit = out.limit();
            if (g == null) {
                channel.write(out);
            } else if (g[0] - written > before) {
                out.limit((int) (g[0] - written)); // the replies before the mark, without a descriptor
                channel.write(out);
                out.limit(limit);
            } else {
                long[] next = grants.size() > 1 ? grants.stream().skip(1).findFirst().orElseThrow() : null;
                if (next != null) {
                    out.limit((int) (next[0] - written));
                }
                long r = RawFd.sendWithFd(RawFd.of(channel), out, (int) g[1]);
                out.limit(limit);
                if (r == -RawFd.EAGAIN) {
                    return;
                }
                if (r < 0) {
                    throw new IOException("sendmsg with a descriptor failed: errno " + -r);
                }
                grants.poll();
                RawFd.close((int) g[1]);
            }
            if (out.position() == before) {
                return; // the socket is full: OP_WRITE resumes
            }
        }
    }

    /** Reply bytes waiting to be written (tests and diagnostics). */
    public int pendingReplyBytes() {
        return out.position();
    }

    /** Whether serving is paused by the reply backlog (tests and diagnostics). */
    public boolean paused() {
        return paused;
    }

    /** Closes the connection and tells the session. Idempotent. */
    public void close(String reason, boolean protocol) {
        if (closed) {
            return;
        }
        closed = true;
        for (long[] g; (g = grants.poll()) != null; ) {
            RawFd.close((int) g[1]);
        }
        key.cancel();
        try {
            channel.close();
        } catch (IOException ignored) {
            // already gone
        }
        session.detached(task, this, reason, protocol);
    }

    public boolean closed() {
        return closed;
    }
}
