package io.ukernel.vmm.image;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The smallest bootable initramfs: {@code /dev/console} and an {@code /init} that prints one line and powers the
 * machine off. Used to probe whether an accelerator really runs a Linux guest, and by the boot benchmark as
 * the floor (the same kernel and VMM with nothing but init).
 */
public final class TinyInitrd {
    private TinyInitrd() {}

    /** An uncompressed cpio archive whose init prints {@code line} and powers off. */
    public static byte[] printAndPowerOff(String line) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (CpioWriter cpio = new CpioWriter(out, ImageBuilder.DEFAULT_MTIME)) {
            cpio.directory("dev", 0755);
            cpio.charDevice("dev/console", 0600, 5, 1);
            cpio.file("init", 0755, InitElf.printAndPowerOff(line + "\n"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /**
     * {@code java -cp ... io.ukernel.vmm.image.TinyInitrd FILE [LINE]}: writes the floor image for
     * {@code bench/microvm.sh}. Boot it only in a VM: its init powers the machine off.
     */
    public static void main(String[] args) throws IOException {
        if (args.length < 1) {
            System.err.println("usage: TinyInitrd FILE [LINE]");
            System.exit(2);
        }
        java.nio.file.Files.write(java.nio.file.Path.of(args[0]),
                printAndPowerOff(args.length > 1 ? args[1] : "ukernel-floor: init ran"));
    }
}
