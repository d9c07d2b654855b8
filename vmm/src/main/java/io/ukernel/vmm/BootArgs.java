package io.ukernel.vmm;

/**
 * The guest kernel's command line for each VMM: the serial console, a quiet kernel (the console is the app's),
 * no PCI probing (microVMs have none), a keyboard controller without mouse probing (it only carries
 * Ctrl-Alt-Del, the stop request), and the run's {@link GuestParams}.
 */
public final class BootArgs {
    /** What every guest gets. */
    public static final String COMMON = "console=ttyS0 quiet loglevel=1 pci=off i8042.noaux i8042.nomux "
            + "i8042.dumbkbd";

    private BootArgs() {}

    /**
     * For QEMU, run with {@code -no-reboot}: a panic reboots at once, which ends QEMU; the guest powers off. The
     * environment is not here (QEMU's command line is readable by every local user): it goes in the fw_cfg item
     * {@link GuestParams#FW_CFG_ENV}.
     *
     * @param tscKhz the TSC frequency to give the guest instead of letting it calibrate (0: calibrate). Under
     *               emulation the guest's TSC is the host's, and calibrating it against the emulated PIT fails now
     *               and then on a busy host, leaving the guest without a clock.
     */
    public static String qemu(GuestParams params, long tscKhz) {
        return check(COMMON + " panic=-1" + (tscKhz > 0 ? " tsc_early_khz=" + tscKhz : "") + " "
                + params.toCmdlineEnvByFwCfg());
    }

    /**
     * For Firecracker, whose boot arguments travel through its API socket (in the run's owner-only directory), not
     * on a command line; the environment is inline. Firecracker cannot power a guest off but exits when it reboots
     * through the keyboard controller
     * ({@code reboot=k}): the guest's init ends with a reboot.
     */
    public static String firecracker(GuestParams params) {
        GuestParams p = new GuestParams(params.env(), params.graceMs(), params.logFormat(), params.debug(),
                params.net(), GuestParams.Halt.REBOOT, params.noSandbox());
        return check(COMMON + " reboot=k panic=1 " + p.toCmdline());
    }

    private static String check(String cmdline) {
        if (cmdline.length() >= GuestParams.MAX_CMDLINE) {
            throw new IllegalArgumentException("the guest's command line would be " + cmdline.length()
                    + " bytes, over Linux's limit of " + (GuestParams.MAX_CMDLINE - 1) + ": the environment (-e, "
                    + "env/ukernel.env) is too large to pass at boot; keep it under about 1.5 KiB");
        }
        return cmdline;
    }
}
