package io.ukernel.vmm;

import io.ukernel.vmm.spi.RunningVm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A VMM process driven through a control socket (QEMU's QMP, Firecracker's API): what both backends share. A
 * clean stop presses Ctrl-Alt-Del through the socket; when the socket cannot be reached the process gets
 * SIGTERM instead. The socket file is removed once the VMM has exited.
 */
public abstract class ControlledVm implements RunningVm {
    protected final VmmProcess proc;
    private final Path controlSocket;
    private final String describe;

    protected ControlledVm(VmmProcess proc, Path controlSocket, String describe) {
        this.proc = proc;
        this.controlSocket = controlSocket;
        this.describe = describe;
    }

    /** Sends Ctrl-Alt-Del to the guest through the control socket. */
    protected abstract void sendCtrlAltDel(Path controlSocket) throws IOException, VmmException;

    @Override
    public final long pid() {
        return proc.pid();
    }

    @Override
    public final String describe() {
        return describe;
    }

    @Override
    public final void requestStop() {
        Thread.ofVirtual().start(() -> {
            try {
                sendCtrlAltDel(controlSocket);
            } catch (IOException | VmmException e) {
                proc.terminate(); // no control socket: end the VMM, which exits cleanly on SIGTERM
            }
        });
    }

    @Override
    public void kill() {
        proc.kill();
    }

    @Override
    public final boolean alive() {
        return proc.alive();
    }

    @Override
    public final int waitFor(long timeout, TimeUnit unit) throws InterruptedException {
        int rc = proc.waitFor(timeout, unit);
        if (rc >= 0) {
            try {
                Files.deleteIfExists(controlSocket);
            } catch (IOException ignored) {
                // the run directory is private; a leftover socket is removed as stale next time
            }
        }
        return rc;
    }
}
