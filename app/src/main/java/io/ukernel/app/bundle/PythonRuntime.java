package io.ukernel.app.bundle;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The CPython that runs an app's workers.
 *
 * @param executable the real interpreter ({@code sys.executable}), absolute, not a shim or a link on PATH
 * @param version    its version, {@code major.minor.micro}, e.g. {@code 3.11.7}
 */
public record PythonRuntime(Path executable, String version) {
    /** Environment variable naming the interpreter to use instead of {@code python3} on PATH. */
    public static final String ENV = "UKERNEL_PYTHON";

    private static final Pattern VERSION = Pattern.compile("(\\d+)\\.(\\d+)\\.(\\d+)");
    private static final Pattern MINOR = Pattern.compile("(\\d+)\\.(\\d+)");
    /** Isolated ({@code -I}) and without site ({@code -S}): no user code runs while we ask. */
    private static final String PROBE = "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])";

    /** Finds a probe command and what stands behind it; a seam for tests. */
    @FunctionalInterface
    public interface Detector {
        /** Returns the runtime, or throws a {@link BuildException} saying what to install. */
        PythonRuntime detect() throws BuildException;
    }

    /** Detects {@code $UKERNEL_PYTHON} if set, else {@code python3} on PATH. */
    public static PythonRuntime detect() throws BuildException {
        String env = System.getenv(ENV);
        return env == null || env.isBlank() ? detect("python3") : detect(env);
    }

    /**
     * Runs {@code command -I -S -c ...} once and reads {@code sys.executable} and the version.
     *
     * @throws BuildException if it cannot be run, fails, or does not answer like CPython 3
     */
    public static PythonRuntime detect(String command) throws BuildException {
        Process p;
        try {
            p = new ProcessBuilder(command, "-I", "-S", "-c", PROBE).redirectInput(ProcessBuilder.Redirect.PIPE).start();
            p.getOutputStream().close();
        } catch (IOException e) {
            throw new BuildException(notFound(command));
        }
        try {
            String out = read(p.getInputStream());
            String err = read(p.getErrorStream());
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new BuildException(command + " did not answer within 30 s");
            }
            String[] lines = out.strip().split("\\R");
            if (p.exitValue() != 0 || lines.length < 2 || !VERSION.matcher(lines[1].strip()).matches()) {
                String why = err.isBlank() ? "exit code " + p.exitValue() : err.strip().lines().reduce((a, b) -> b).orElse("");
                throw new BuildException(command + " is not a working CPython 3 (" + why + "): "
                        + "install CPython 3.11 or newer, or set " + ENV + " to one");
            }
            Path exe = Path.of(lines[0].strip());
            if (!exe.isAbsolute()) {
                throw new BuildException(command + " does not report its executable (sys.executable is \""
                        + lines[0].strip() + "\"): set " + ENV + " to the interpreter's absolute path");
            }
            return new PythonRuntime(exe, lines[1].strip());
        } catch (IOException e) {
            throw new BuildException("cannot run " + command + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new BuildException("interrupted while asking " + command + " for its version", e);
        }
    }

    private static String notFound(String command) {
        String what = command.equals("python3") ? "python3 was not found on PATH" : ENV + "=" + command + " cannot be run";
        return what + ": install CPython 3.11 or newer (Debian/Ubuntu: `apt-get install python3`,"
                + " Fedora: `dnf install python3`, macOS: `brew install python`), or set " + ENV
                + " to the path of one";
    }

    private static String read(InputStream in) throws IOException {
        return new String(in.readNBytes(64 * 1024), StandardCharsets.UTF_8);
    }

    /** {@code major.minor}, e.g. {@code 3.11}. */
    public String minor() {
        Matcher m = VERSION.matcher(version);
        return m.matches() ? m.group(1) + "." + m.group(2) : version;
    }

    /** Whether this runtime is at least {@code wanted} ({@code major.minor}). */
    public boolean atLeast(String wanted) {
        Matcher w = MINOR.matcher(wanted);
        Matcher v = VERSION.matcher(version);
        if (!w.matches() || !v.matches()) {
            return false;
        }
        int wantMajor = Integer.parseInt(w.group(1));
        int haveMajor = Integer.parseInt(v.group(1));
        return haveMajor != wantMajor ? haveMajor > wantMajor : Integer.parseInt(v.group(2)) >= Integer.parseInt(w.group(2));
    }

    /**
     * Fails unless this runtime is at least {@code wanted}.
     *
     * @param wanted the manifest's {@code python}
     * @param source where {@code wanted} comes from, for the message (e.g. the manifest's path)
     */
    public void requireAtLeast(String wanted, String source) throws BuildException {
        if (!atLeast(wanted)) {
            throw new BuildException(source + " needs python " + wanted + " or newer, but " + executable + " is "
                    + version + ": install CPython " + wanted + "+ or set " + ENV + " to one");
        }
    }
}
