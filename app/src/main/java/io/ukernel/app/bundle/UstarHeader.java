package io.ukernel.app.bundle;

import java.nio.charset.StandardCharsets;

/**
 * One POSIX ustar header block, shared by the two archive writers that must be byte-for-byte reproducible: the
 * app bundle ({@link TarWriter}) and the OCI image layers (the vmm module's layer writer). Written by hand rather
 * than with commons-compress so that every byte of the header is ours to pin (commons-compress fills the
 * user/group names and picks GNU or PAX extensions itself).
 */
public final class UstarHeader {
    /** The tar block size. */
    public static final int BLOCK = 512;
    private static final int NAME = 100;
    private static final int PREFIX = 155;

    private UstarHeader() {}

    /**
     * Where {@code name} must be split to fit the header: 0 if it fits the 100-byte name field alone, else the
     * index of the {@code '/'} between the prefix field (at most 155 bytes) and the name field; -1 if it cannot fit.
     */
    public static int split(byte[] name) {
        if (name.length <= NAME) {
            return 0;
        }
        for (int i = Math.min(PREFIX, name.length - 1); i > 0; i--) {
            if (name[i] == '/' && name.length - i - 1 <= NAME && name.length - i - 1 > 0) {
                return i;
            }
        }
        return -1;
    }

    /**
     * The header block of one entry, its checksum set.
     *
     * @param name the entry's path (UTF-8); must fit ({@link #split} not -1)
     * @param type {@code '0'} file, {@code '5'} directory, {@code '2'} symbolic link, {@code 'x'} PAX extension...
     * @param link the link target (at most 100 bytes), or empty
     * @throws IllegalArgumentException if the name or the link does not fit, or a number does not fit its field
     */
    public static byte[] block(byte[] name, int mode, int uid, int gid, long size, long mtime, char type, byte[] link) {
        int split = split(name);
        if (split < 0 || link.length > NAME) {
            throw new IllegalArgumentException("a name or link too long for a ustar header: "
                    + new String(split < 0 ? name : link, StandardCharsets.UTF_8));
        }
        byte[] h = new byte[BLOCK];
        int from = split == 0 ? 0 : split + 1;
        System.arraycopy(name, from, h, 0, name.length - from);
        octal(h, 100, 8, mode);
        octal(h, 108, 8, uid);
        octal(h, 116, 8, gid);
        octal(h, 124, 12, size);
        octal(h, 136, 12, mtime);
        h[156] = (byte) type;
        System.arraycopy(link, 0, h, 157, link.length);
        System.arraycopy("ustar\0".getBytes(StandardCharsets.US_ASCII), 0, h, 257, 6);
        h[263] = '0';
        h[264] = '0';
        octal(h, 329, 8, 0); // devmajor
        octal(h, 337, 8, 0); // devminor
        if (split > 0) {
            System.arraycopy(name, 0, h, 345, split);
        }
        for (int i = 148; i < 156; i++) {
            h[i] = ' ';
        }
        long sum = 0;
        for (byte b : h) {
            sum += b & 0xff;
        }
        System.arraycopy("%06o\0 ".formatted(sum).getBytes(StandardCharsets.US_ASCII), 0, h, 148, 8);
        return h;
    }

    private static void octal(byte[] h, int off, int len, long value) {
        String s = Long.toOctalString(value);
        if (s.length() > len - 1) {
            throw new IllegalArgumentException("value " + value + " does not fit a " + len + "-byte tar field");
        }
        String padded = "0".repeat(len - 1 - s.length()) + s;
        System.arraycopy(padded.getBytes(StandardCharsets.US_ASCII), 0, h, off, len - 1);
        h[off + len - 1] = 0;
    }
}
