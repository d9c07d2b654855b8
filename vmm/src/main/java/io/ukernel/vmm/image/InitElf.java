package io.ukernel.vmm.image;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The image's {@code /init}: a static x86-64 ELF of a few hundred bytes that mounts {@code /proc} and
 * {@code execve}s a fixed command (the JVM with its argument file), passing on the environment the kernel gave
 * it. {@code /proc} comes first because the dynamic loader resolves {@code $ORIGIN} in the JVM launcher's
 * {@code RUNPATH} (where {@code libjli.so} is) through {@code /proc/self/exe}. It is generated here, byte by
 * byte, so that packing needs no shell, no busybox and no C compiler, and the guest spends no time in a shell
 * before the JVM starts. If the {@code execve} fails it prints one line and exits 127 (the kernel then panics,
 * and {@code panic=-1} ends the VM).
 *
 * <pre>
 *   mount("proc", "/proc", "proc", 0, NULL)                          ; result ignored
 *   mov  rcx, [rsp]               ; argc
 *   lea  rdx, [rsp + rcx*8 + 16]  ; envp = &amp;argv[argc + 1]
 *   mov  edi, PATH                ; the program
 *   mov  esi, ARGV                ; its argv (absolute pointers into this file)
 *   mov  eax, 59                  ; execve
 *   syscall
 *   mov  edi, 2 / mov esi, MSG / mov edx, LEN / mov eax, 1 / syscall   ; write(2, MSG, LEN)
 *   mov  edi, 127 / mov eax, 231 / syscall                          ; exit_group(127)
 * </pre>
 */
final class InitElf {
    /** Where the file is mapped: a classic non-PIE address, so the data's addresses are constants. */
    private static final long BASE = 0x400000;
    private static final int EHDR = 64;
    private static final int PHDR = 56;

    private InitElf() {}

    /**
     * The ELF for {@code argv} ({@code argv[0]} is the absolute path executed).
     *
     * @throws IllegalArgumentException if {@code argv} is empty or {@code argv[0]} is not absolute
     */
    static byte[] forCommand(List<String> argv) {
        if (argv.isEmpty() || !argv.getFirst().startsWith("/")) {
            throw new IllegalArgumentException("init needs an absolute program path, got " + argv);
        }
        int mountSize = 5 + 5 + 5 + 3 + 3 + 5 + 2;
        int codeSize = mountSize + 4 + 5 + 5 + 5 + 5 + 2 + (5 + 5 + 5 + 5 + 2) + (5 + 5 + 2);
        int codeOff = EHDR + PHDR;
        int argvOff = align8(codeOff + codeSize);
        int stringsOff = argvOff + 8 * (argv.size() + 1);
        ByteArrayOutputStream strings = new ByteArrayOutputStream();
        long procName = BASE + stringsOff;
        strings.writeBytes("proc\0/proc\0".getBytes(StandardCharsets.US_ASCII));
        long procDir = procName + 5;
        long[] pointers = new long[argv.size()];
        for (int i = 0; i < argv.size(); i++) {
            pointers[i] = BASE + stringsOff + strings.size();
            strings.writeBytes(argv.get(i).getBytes(StandardCharsets.UTF_8));
            strings.write(0);
        }
        byte[] msg = ("init: cannot execute " + argv.getFirst() + "\n").getBytes(StandardCharsets.UTF_8);
        int msgOff = stringsOff + strings.size();
        int total = msgOff + msg.length;

        ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        header(b, codeOff, total);
        // Code
        movImm32(b, 0xbf, procName);                                       // mov edi, "proc"
        movImm32(b, 0xbe, procDir);                                        // mov esi, "/proc"
        movImm32(b, 0xba, procName);                                       // mov edx, "proc"
        b.put(new byte[] {0x45, 0x31, (byte) 0xd2});                       // xor r10d, r10d (flags)
        b.put(new byte[] {0x45, 0x31, (byte) 0xc0});                       // xor r8d, r8d (data)
        movImm32(b, 0xb8, 165);                                            // mov eax, SYS_mount
        b.put(new byte[] {0x0f, 0x05});                                    // syscall
        b.put(new byte[] {0x48, (byte) 0x8b, 0x0c, 0x24});                 // mov rcx, [rsp]
        b.put(new byte[] {0x48, (byte) 0x8d, 0x54, (byte) 0xcc, 0x10});    // lea rdx, [rsp+rcx*8+16]
        movImm32(b, 0xbf, pointers[0]);                                    // mov edi, path
        movImm32(b, 0xbe, BASE + argvOff);                                 // mov esi, argv
        movImm32(b, 0xb8, 59);                                             // mov eax, SYS_execve
        b.put(new byte[] {0x0f, 0x05});                                    // syscall
        movImm32(b, 0xbf, 2);                                              // mov edi, 2
        movImm32(b, 0xbe, BASE + msgOff);                                  // mov esi, msg
        movImm32(b, 0xba, msg.length);                                     // mov edx, len
        movImm32(b, 0xb8, 1);                                              // mov eax, SYS_write
        b.put(new byte[] {0x0f, 0x05});                                    // syscall
        movImm32(b, 0xbf, 127);                                            // mov edi, 127
        movImm32(b, 0xb8, 231);                                            // mov eax, SYS_exit_group
        b.put(new byte[] {0x0f, 0x05});                                    // syscall
        if (b.position() != codeOff + codeSize) {
            throw new IllegalStateException("code size mismatch");
        }
        b.position(argvOff);
        for (long p : pointers) {
            b.putLong(p);
        }
        b.putLong(0);
        b.put(strings.toByteArray());
        b.put(msg);
        return b.array();
    }

    /**
     * An ELF that writes {@code message} to stdout and powers the machine off ({@code reboot(2)}): the smallest
     * possible init, for probing whether a VM boots at all and for measuring the boot floor.
     */
    static byte[] printAndPowerOff(String message) {
        byte[] msg = message.getBytes(StandardCharsets.UTF_8);
        int codeSize = (5 + 5 + 5 + 5 + 2) + (5 + 5 + 5 + 5 + 2) + (5 + 5 + 2);
        int codeOff = EHDR + PHDR;
        int msgOff = codeOff + codeSize;
        int total = msgOff + msg.length;
        ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        header(b, codeOff, total);
        movImm32(b, 0xbf, 1);                                              // mov edi, 1
        movImm32(b, 0xbe, BASE + msgOff);                                  // mov esi, msg
        movImm32(b, 0xba, msg.length);                                     // mov edx, len
        movImm32(b, 0xb8, 1);                                              // mov eax, SYS_write
        b.put(new byte[] {0x0f, 0x05});
        movImm32(b, 0xbf, 0xfee1deadL);                                    // LINUX_REBOOT_MAGIC1
        movImm32(b, 0xbe, 672274793);                                      // LINUX_REBOOT_MAGIC2
        movImm32(b, 0xba, 0x4321fedcL);                                    // LINUX_REBOOT_CMD_POWER_OFF
        movImm32(b, 0xb8, 169);                                            // mov eax, SYS_reboot
        b.put(new byte[] {0x0f, 0x05});
        movImm32(b, 0xbf, 0);                                              // exit_group(0) if reboot failed
        movImm32(b, 0xb8, 231);
        b.put(new byte[] {0x0f, 0x05});
        b.put(msg);
        return b.array();
    }

    private static void header(ByteBuffer b, int codeOff, int total) {
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0});
        b.putShort((short) 2);
        b.putShort((short) 0x3e);
        b.putInt(1);
        b.putLong(BASE + codeOff);
        b.putLong(EHDR);
        b.putLong(0);
        b.putInt(0);
        b.putShort((short) EHDR);
        b.putShort((short) PHDR);
        b.putShort((short) 1);
        b.putShort((short) 0);
        b.putShort((short) 0);
        b.putShort((short) 0);
        b.putInt(1);
        b.putInt(5);
        b.putLong(0);
        b.putLong(BASE);
        b.putLong(BASE);
        b.putLong(total);
        b.putLong(total);
        b.putLong(0x1000);
    }

    private static void movImm32(ByteBuffer b, int opcode, long value) {
        if (value < 0 || value > 0xffff_ffffL) {
            throw new IllegalArgumentException("immediate out of range: " + value);
        }
        b.put((byte) opcode);
        b.putInt((int) value);
    }

    private static int align8(int n) {
        return (n + 7) & ~7;
    }
}
