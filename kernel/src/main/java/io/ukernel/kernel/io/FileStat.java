package io.ukernel.kernel.io;

import io.ukernel.abi.StatKind;

/**
 * What {@code io_stat} reports about an open file.
 *
 * @param size    bytes
 * @param mtimeNs last modification, in nanoseconds since the Unix epoch
 * @param kind    regular file, directory or anything else
 */
public record FileStat(long size, long mtimeNs, StatKind kind) {}
