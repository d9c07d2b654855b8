package io.ukernel.vmm;

import io.ukernel.vmm.spi.ConsoleListener;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A VMM process with its output pumped line by line: stdout (the guest's serial console) to
 * {@link ConsoleListener#guest}, stderr to {@link ConsoleListener#vmm}. It runs in its own session
 * ({@code setsid}) when the host has it, so a Ctrl-C in the terminal reaches {@code ukernel run}, which stops
 * the guest cleanly, and not the VMM, which would end the VM at once.
 */
public final class VmmProcess {
    private static final Path SETPRIV = Path.of("/usr/bin/setpriv");
    private final Process process;
    private final CountDownLatch drained = new CountDownLatch(2);

    private VmmProcess(Process process) {
        this.process = process;
    }

    /**
     * Starts {@code command}.
     *
     * @throws IOException if it cannot be started
     */
    public static VmmProcess start(List<String> command, ConsoleListener console) throws IOException {
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
            cmd.add("/usr/bin/setsid");
        }
        // Nothing outlives its supervisor: when the JVM dies, even by SIGKILL (no shutdown hook runs), the host
        // kernel sends the VMM SIGKILL (PR_SET_PDEATHSIG, kept across exec). setpriv sets it and execs the VMM
        // without forking. The death signal follows the thread that started the VMM, which is the run's own
        // thread for its whole life.
        if (Files.isExecutable(SETPRIV)) {
            cmd.addAll(List.of(SETPRIV.toString(), "--pdeathsig", "KILL", "--"));
        }
        cmd.addAll(command);
        Process p = new ProcessBuilder(cmd).start();
        VmmProcess vp = new VmmProcess(p);
        vp.pump(p.getInputStream(), "stdout", console::guest);
        vp.pump(p.getErrorStream(), "stderr", console::vmm);
        return vp;
    }

    private void pump(InputStream in, String what, Consumer<String> sink) {
        Thread.ofPlatform().daemon().name("vmm-" + what).start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    sink.accept(stripCr(line));
                }
            } catch (IOException e) {
                // the process ended and its pipe with it
            } finally {
                drained.countDown();
            }
        });
    }

    private static String stripCr(String s) {
        int end = s.length();
        while (end > 0 && s.charAt(end - 1) == '\r') {
            end--;
        }
        return s.substring(0, end).replace("\r", "");
    }

    /** The process. */
    public Process process() {
        return process;
    }

    /** Its pid (the VMM's own: {@code setsid} and {@code setpriv} exec it without forking). */
    public long pid() {
        return process.pid();
    }

    /** Whether it runs. */
    public boolean alive() {
        return process.isAlive();
    }

    /** SIGTERM. */
    public void terminate() {
        process.destroy();
    }

    /** SIGKILL. */
    public void kill() {
        process.destroyForcibly();
    }

    /** Waits for the exit and the output's end; -1 on timeout. */
    public int waitFor(long timeout, TimeUnit unit) throws InterruptedException {
        if (!process.waitFor(timeout, unit)) {
            return -1;
        }
        drained.await(2, TimeUnit.SECONDS);
        return process.exitValue();
    }
}
