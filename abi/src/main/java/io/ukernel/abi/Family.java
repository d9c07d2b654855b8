package io.ukernel.abi;

/**
 * Call families. Each family owns a block of 16 call numbers ({@code base .. base+15}) and maps to one handler
 * class in the kernel ({@code MetaCalls}, {@code LogCalls}, ...), the way gVisor keeps one file per syscall
 * family.
 */
public enum Family {
    META(0x00),
    LOG(0x10),
    TIME(0x20),
    TASK(0x30),
    IPC(0x40),
    NET(0x50),
    IO(0x60),
    POLL(0x70);

    private final int base;

    Family(int base) {
        this.base = base;
    }

    /** The first call number of the family's block. */
    public int base() {
        return base;
    }
}
