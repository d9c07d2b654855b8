package io.ukernel.kernel.console;

/**
 * One console line.
 *
 * @param monoNs   nanoseconds since kernel boot
 * @param wallMs   wall-clock milliseconds since the epoch (JSON only)
 * @param task     the task's name ({@code kernel} for the kernel itself)
 * @param taskId   the task's id (0 for the kernel)
 * @param level    the level column
 * @param event    a machine-readable event name such as {@code cap.acquire}, or {@code null} for plain lines
 * @param text     the message, without a newline
 */
public record ConsoleLine(long monoNs, long wallMs, String task, int taskId, Level level, String event,
        String text) {}
