package io.ukernel.vmm;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a run tells the guest's init, carried on the guest kernel's command line as {@code ukernel.*} parameters
 * (Linux ignores parameters with a dot that name no built-in module, and passes none of them to init as
 * variables, so they reach only {@code /proc/cmdline}):
 *
 * <ul>
 *   <li>{@code ukernel.env=B64} — the workers' environment, {@code KEY=VALUE} pairs separated by NUL, in
 *       unpadded base64url (values may hold spaces): Firecracker only, whose boot arguments travel through its
 *       owner-only API socket; or {@code ukernel.env=fw_cfg} — QEMU: the environment is not on the command line
 *       (where every local user could read it with {@code ps}) but in the fw_cfg item {@value #FW_CFG_ENV}, read
 *       from an owner-only file the host deletes once the guest runs ({@link #envBlob});</li>
 *   <li>{@code ukernel.grace=MS} — SIGTERM to SIGKILL grace for stopping workers;</li>
 *   <li>{@code ukernel.log=json} — the console format; {@code ukernel.debug=1} — DEBUG lines;</li>
 *   <li>{@code ukernel.net=ADDRESS/PREFIX,GATEWAY} — bring up {@code eth0} (loading the virtio modules);</li>
 *   <li>{@code ukernel.nosandbox=1} — workers unconfined ({@code --insecure-no-sandbox});</li>
 *   <li>{@code ukernel.halt=poweroff|reboot} — how the VM ends: QEMU runs with {@code -no-reboot} and powers
 *       off; Firecracker exits when the guest reboots ({@code reboot=k}), and cannot power off.</li>
 * </ul>
 *
 * @param env       the workers' environment
 * @param graceMs   the stop grace period, milliseconds
 * @param logFormat {@code text} or {@code json}
 * @param debug     whether DEBUG lines are shown
 * @param net       the network interface to configure, if any
 * @param halt      how the guest ends the VM
 * @param noSandbox whether workers run unconfined ({@code --insecure-no-sandbox})
 */
public record GuestParams(Map<String, String> env, long graceMs, String logFormat, boolean debug,
        Optional<NetConfig> net, Halt halt, boolean noSandbox) {
    /** x86's {@code COMMAND_LINE_SIZE}: the kernel truncates longer command lines. */
    public static final int MAX_CMDLINE = 2048;
    /** The fw_cfg item holding the environment (QEMU), as {@link #envBlob} encodes it. */
    public static final String FW_CFG_ENV = "opt/io.ukernel/env";
    /** Where the guest reads {@link #FW_CFG_ENV} once the {@code qemu_fw_cfg} driver is loaded. */
    public static final String FW_CFG_ENV_SYSFS = "/sys/firmware/qemu_fw_cfg/by_name/" + FW_CFG_ENV + "/raw";
    /** The value of {@code ukernel.env} saying that the environment is in {@link #FW_CFG_ENV}. */
    public static final String ENV_FROM_FW_CFG = "fw_cfg";
    /** The line the guest prints last; the host exits with its status. */
    public static final String EXIT_LINE_PREFIX = "ukernel: app exited with status ";

    /** How the guest's init ends the VM. */
    public enum Halt {
        POWEROFF, REBOOT;

        String text() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public GuestParams {
        env = Map.copyOf(new LinkedHashMap<>(env));
    }

    /** The defaults: no environment, 5 s grace, text, no network, power off. */
    public static GuestParams defaults() {
        return new GuestParams(Map.of(), 5000, "text", false, Optional.empty(), Halt.POWEROFF, false);
    }

    /** The {@code ukernel.*} parameters, space-separated, in a fixed order, the environment inline (Firecracker). */
    public String toCmdline() {
        return cmdline(false);
    }

    /**
     * The parameters without the environment's contents: {@code ukernel.env=fw_cfg} says it is in the fw_cfg item
     * {@link #FW_CFG_ENV} (QEMU), so no secret is on the host's process command line.
     */
    public String toCmdlineEnvByFwCfg() {
        return cmdline(true);
    }

    /** The environment as the fw_cfg item carries it: {@code KEY=VALUE} pairs separated by NUL, UTF-8, sorted. */
    public byte[] envBlob() {
        StringBuilder b = new StringBuilder();
        new java.util.TreeMap<>(env).forEach((k, v) -> {
            if (!b.isEmpty()) {
                b.append('\0');
            }
            b.append(k).append('=').append(v);
        });
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** This run's parameters with {@code env} as the environment (the guest, once it has read the fw_cfg item). */
    public GuestParams withEnv(Map<String, String> env) {
        return new GuestParams(env, graceMs, logFormat, debug, net, halt, noSandbox);
    }

    /** This run's parameters with {@code net} as the network. */
    public GuestParams withNet(Optional<NetConfig> net) {
        return new GuestParams(env, graceMs, logFormat, debug, net, halt, noSandbox);
    }

    /** Whether a kernel command line says the environment is in the fw_cfg item {@link #FW_CFG_ENV}. */
    public static boolean envInFwCfg(String cmdline) {
        return java.util.Arrays.asList(cmdline.strip().split("\\s+")).contains("ukernel.env=" + ENV_FROM_FW_CFG);
    }

    /** The environment in an {@link #envBlob}. */
    public static Map<String, String> decodeEnvBlob(byte[] blob) {
        Map<String, String> env = new LinkedHashMap<>();
        for (String pair : new String(blob, StandardCharsets.UTF_8).split("\0")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                env.put(pair.substring(0, eq), pair.substring(eq + 1));
            }
        }
        return env;
    }

    private String cmdline(boolean envByFwCfg) {
        List<String> p = new ArrayList<>();
        if (!env.isEmpty()) {
            p.add("ukernel.env=" + (envByFwCfg ? ENV_FROM_FW_CFG
                    : Base64.getUrlEncoder().withoutPadding().encodeToString(envBlob())));
        }
        p.add("ukernel.grace=" + graceMs);
        if (!logFormat.equals("text")) {
            p.add("ukernel.log=" + logFormat);
        }
        if (debug) {
            p.add("ukernel.debug=1");
        }
        net.ifPresent(n -> p.add("ukernel.net=" + n));
        if (noSandbox) {
            p.add("ukernel.nosandbox=1");
        }
        p.add("ukernel.halt=" + halt.text());
        return String.join(" ", p);
    }

    /**
     * Reads the parameters from a kernel command line ({@code /proc/cmdline}); anything else on it is ignored. With
     * {@code ukernel.env=fw_cfg} the environment is empty here: the guest reads it with {@link #decodeEnvBlob}.
     *
     * @throws IllegalArgumentException if a {@code ukernel.*} parameter is malformed
     */
    public static GuestParams parse(String cmdline) {
        Map<String, String> env = new LinkedHashMap<>();
        long grace = 5000;
        String log = "text";
        boolean debug = false;
        Optional<NetConfig> net = Optional.empty();
        Halt halt = Halt.POWEROFF;
        boolean noSandbox = false;
        for (String word : cmdline.strip().split("\\s+")) {
            int eq = word.indexOf('=');
            if (!word.startsWith("ukernel.") || eq < 0) {
                continue;
            }
            String key = word.substring("ukernel.".length(), eq);
            String value = word.substring(eq + 1);
            switch (key) {
                case "env" -> {
                    if (!value.equals(ENV_FROM_FW_CFG)) {
                        env.putAll(decodeEnvBlob(Base64.getUrlDecoder().decode(value)));
                    }
                }
                case "grace" -> grace = Long.parseLong(value);
                case "log" -> log = value;
                case "debug" -> debug = value.equals("1");
                case "net" -> net = Optional.of(NetConfig.parse(value));
                case "halt" -> halt = Halt.valueOf(value.toUpperCase(java.util.Locale.ROOT));
                case "nosandbox" -> noSandbox = value.equals("1");
                default -> { }
            }
        }
        return new GuestParams(env, grace, log, debug, net, halt, noSandbox);
    }

    /** The guest's last line for {@code status}. */
    public static String exitLine(int status) {
        return EXIT_LINE_PREFIX + status;
    }

    /** The status in a console line written by {@link #exitLine}, if it is one. */
    public static Optional<Integer> parseExitLine(String line) {
        String l = line.strip();
        if (!l.startsWith(EXIT_LINE_PREFIX)) {
            return Optional.empty();
        }
        try {
            return Optional.of(Integer.parseInt(l.substring(EXIT_LINE_PREFIX.length()).strip()));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }
}
