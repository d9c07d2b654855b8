package io.ukernel.cli;

import io.ukernel.app.ManifestParser;
import io.ukernel.app.ProjectTemplate;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ukernel init NAME [--dir DIR]}: create a new app from the template. */
@Command(
        name = "init",
        header = "Create a new app (manifest, heartbeat worker, env file).",
        mixinStandardHelpOptions = true,
        description = {
            "Create a new app: ukernel.toml (the manifest, every section explained), src/main.py (a heartbeat "
                    + "worker), env/ukernel.env (environment for the workers) and a .gitignore for build/, dist/ "
                    + "and logs/.",
            "",
            "The directory must not exist or be empty; nothing is overwritten."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel init demo                   create ./demo",
            "  ukernel init demo --dir apps/demo   create the app in apps/demo",
            "  mkdir api && cd api && ukernel init api --dir ."
        })
public final class InitCommand implements Callable<Integer> {
    private static final Map<String, String> DESCRIPTIONS = Map.of(
            "ukernel.toml", "the manifest: name, entry, capabilities, limits, restart policy",
            "src/main.py", "the main task: a heartbeat worker",
            "env/ukernel.env", "environment variables for the workers (not bundled)",
            ".gitignore", "keeps build/, dist/ and logs/ out of git");

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NAME",
            description = "The app's name: lower-case letters, digits, '_' and '-' (at most 63), starting with a "
                    + "letter or digit.")
    String name;

    @Option(names = "--dir", paramLabel = "DIR", description = "Where to create the app (default: ./NAME).")
    Path dir;

    @Override
    public Integer call() {
        if (!ManifestParser.isValidName(name)) {
            throw new ParameterException(spec.commandLine(), "invalid app name \"" + name + "\": use 1 to 63 "
                    + "lower-case letters, digits, '_' or '-', starting with a letter or digit (e.g. "
                    + "\"my-app\")");
        }
        Path target = dir != null ? dir : Path.of(name);
        PrintWriter out = spec.commandLine().getOut();
        List<Path> files;
        try {
            files = ProjectTemplate.create(target, name);
        } catch (IOException | RuntimeException e) {
            spec.commandLine().getErr().println("ukernel init: " + e.getMessage());
            return 1;
        }
        String shown = display(target);
        out.printf("Created app \"%s\" in %s%n", name, shown.equals(".") ? "the current directory" : shown + "/");
        for (Path f : files) {
            out.printf("  %-17s %s%n", f, DESCRIPTIONS.getOrDefault(f.toString(), ""));
        }
        out.println();
        out.println("Next:");
        String run = (shown.equals(".") ? "" : "cd " + shellQuote(shown) + " && ") + "ukernel run";
        String logs = "ukernel logs -f";
        String row = "  %-" + Math.max(run.length(), logs.length()) + "s   %s%n";
        out.printf(row, run, "build and run it (Ctrl-C stops it)");
        out.printf(row, logs, "follow its console from another terminal");
        String launcher = System.getenv("UKERNEL_LAUNCHER");
        if (launcher != null && !onPath("ukernel", System.getenv("PATH"))) {
            out.println();
            out.println("`ukernel` is not on your PATH yet: link the launcher into a directory that is, e.g.");
            out.println("  ln -s " + shellQuote(launcher) + " /usr/local/bin/ukernel");
        }
        out.flush();
        return 0;
    }

    /** Whether an executable {@code name} is found on {@code path} (a PATH value; null means empty). */
    static boolean onPath(String name, String path) {
        if (path == null) {
            return false;
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
                return true;
            }
        }
        return false;
    }

    /** The path as the user would type it: relative to the working directory when inside it. */
    static String display(Path p) {
        Path cwd = Path.of("").toAbsolutePath();
        Path abs = p.toAbsolutePath().normalize();
        if (abs.equals(cwd)) {
            return ".";
        }
        return abs.startsWith(cwd) ? cwd.relativize(abs).toString() : abs.toString();
    }

    private static String shellQuote(String s) {
        return s.matches("[A-Za-z0-9_./@%+=:,-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }
}
