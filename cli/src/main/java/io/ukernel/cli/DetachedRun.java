package io.ukernel.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code ukernel run -d}: hands the app to the resident host (starting it when none answers), prints the run's
 * name and returns. The environment is resolved here, where {@code -e KEY} means this shell's KEY and relative
 * {@code --env-file} paths mean this directory; the host builds and boots the app.
 */
final class DetachedRun {
    private final RunCommand cmd;
    private final PrintWriter out;
    private final PrintWriter err;

    DetachedRun(RunCommand cmd, PrintWriter out, PrintWriter err) {
        this.cmd = cmd;
        this.out = out;
        this.err = err;
    }

    int call() throws Exception {
        if (!cmd.logFormat.equals("text")) {
            throw new UserError("--log-format applies to a foreground run; the host writes text logs");
        }
        if (cmd.quiet) {
            throw new UserError("-q applies to a foreground run; with -d nothing is written to the terminal");
        }
        if (cmd.graceSeconds < 0) {
            throw new UserError("--grace must be zero or more seconds, got " + cmd.graceSeconds);
        }
        Path app = cmd.dir.toAbsolutePath().normalize();
        if (!java.nio.file.Files.isRegularFile(app.resolve(io.ukernel.app.Manifest.FILE_NAME))) {
            throw new UserError(app + " has no " + io.ukernel.app.Manifest.FILE_NAME
                    + " (create an app with `ukernel init NAME`)");
        }
        Map<String, String> env = RunCommand.environment(app, cmd.envFiles, cmd.env);
        HostClient client = HostClient.local();
        client.ensureRunning(err);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("dir", app.toString());
        body.put("name", cmd.name);
        body.put("env", new LinkedHashMap<String, Object>(env));
        body.put("rm", cmd.rm);
        body.put("insecure_no_sandbox", cmd.insecureNoSandbox);
        body.put("grace", cmd.graceSeconds);
        body.put("debug", cmd.debug);
        @SuppressWarnings("unchecked")
        Map<String, Object> started = (Map<String, Object>) client.request("POST", "/apps", body);
        out.println(started.get("name"));
        out.flush();
        return 0;
    }
}
