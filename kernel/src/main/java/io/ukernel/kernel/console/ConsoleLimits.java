package io.ukernel.kernel.console;

/**
 * How many console lines each task may cause: its own output ({@code log_write}, stdout, stderr) and the audit
 * lines its refused calls produce are two separate budgets, so a task flooding its output cannot hide its
 * denials, and its denials cannot crowd out its output. Lines over budget are dropped and counted, and a
 * {@code console.suppressed} line reports the count at most once per {@code reportIntervalNs} per task and kind.
 *
 * <p>The limits are the kernel's, not the manifest's: they protect the operator's terminal and disk from the app,
 * so the app's own manifest cannot raise them.
 *
 * @param output           the budget of a task's own lines
 * @param audit            the budget of the kernel's audit lines about a task (its DEBUG lines, shown with
 *                         {@code --debug}, have a budget of their own at the {@code output} rate)
 * @param reportIntervalNs the shortest time between two suppression reports of one task and kind
 */
public record ConsoleLimits(Rate output, Rate audit, long reportIntervalNs) {
    /**
     * One budget.
     *
     * @param linesPerSec sustained lines per second
     * @param burstLines  lines that may come at once after a quiet spell
     * @param bytesPerSec sustained bytes per second
     * @param burstBytes  bytes that may come at once (a longer line costs this much)
     */
    public record Rate(long linesPerSec, long burstLines, long bytesPerSec, long burstBytes) {
        public Rate {
            if (linesPerSec < 1 || burstLines < 1 || bytesPerSec < 1 || burstBytes < 1) {
                throw new IllegalArgumentException("console rates must be positive");
            }
        }

        @Override
        public String toString() {
            return linesPerSec + " lines/s (burst " + burstLines + "), " + bytesPerSec / 1024 + " KiB/s (burst "
                    + burstBytes / 1024 + " KiB)";
        }
    }

    /**
     * The kernel's limits: a task's output at 500 lines and 512 KiB a second, bursts of 5000 lines and 4 MiB
     * (a traceback or a start-up banner never comes near); its audit lines at 50 a second, bursts of 500; one
     * report a second.
     */
    public static final ConsoleLimits DEFAULT = new ConsoleLimits(
            new Rate(500, 5000, 512 * 1024, 4 * 1024 * 1024),
            new Rate(50, 500, 512 * 1024, 4 * 1024 * 1024),
            1_000_000_000L);
}
