package io.ukernel.vmm.image;

import java.util.Locale;

/** Human-readable sizes for pack's display. */
public final class ImageSizes {
    private ImageSizes() {}

    /** {@code 12.3 MiB}, {@code 840 KiB} or {@code 512 B}. */
    public static String mib(long bytes) {
        if (bytes >= 1 << 20) {
            return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
        }
        if (bytes >= 1 << 10) {
            return String.format(Locale.ROOT, "%d KiB", bytes >> 10);
        }
        return bytes + " B";
    }
}
