package io.ukernel.vmm;

import java.util.HexFormat;
import java.util.Optional;

/**
 * What the host tells a guest restored from a snapshot, before the guest's init goes on: everything that must not
 * be shared between two instances restored from the same snapshot, or that belongs to this run and not to the run
 * that made the snapshot. One line of {@code ukernel.*} words, written to the guest's serial console input (the
 * VMM's stdin, a pipe only this run holds; the guest reads it with echo off, so it reaches no log):
 *
 * <ul>
 *   <li>{@code ukernel.wall=NS} — the host's wall clock (ns since the epoch) when it wrote the line: the guest's
 *       clock stood still while the snapshot sat on disk;</li>
 *   <li>{@code ukernel.seed=HEX} — {@value #SEED_BYTES} bytes from the host's {@code SecureRandom}, mixed into the
 *       guest kernel's entropy pool, which then reseeds its CRNG: without it every restore of one snapshot would
 *       draw the same {@code getrandom} bytes;</li>
 *   <li>the run's {@link GuestParams} ({@link GuestParams#toCmdline}, the environment inline).</li>
 * </ul>
 *
 * @param wallNs the host's wall clock, ns since the epoch
 * @param seed   fresh random bytes
 * @param params this run's parameters
 * @param reseed whether the guest reseeds its CRNG with {@code seed} (always, but to demonstrate the clone risk)
 */
public record RestoreRecord(long wallNs, byte[] seed, GuestParams params, boolean reseed) {
    /** How many random bytes the host sends. */
    public static final int SEED_BYTES = 64;
    /** On the kernel command line of the VM a snapshot is made of: wait for a restore record before the app. */
    public static final String SNAPSHOT_WORD = "ukernel.snapshot=1";
    /**
     * Host environment variable that makes restores skip the reseed ({@code ukernel.reseed=0} in the record): every
     * restore then shares the saved CRNG state — the clone risk the reseed exists for. For demonstrating it only.
     */
    public static final String ENV_INSECURE_NO_RESEED = "UKERNEL_INSECURE_NO_RESEED";
    /** The guest's line saying it waits at the snapshot point (the host saves the VM when it sees it). */
    public static final String READY_LINE = "ukernel: ready for a snapshot";

    public RestoreRecord {
        seed = seed.clone();
        if (seed.length == 0) {
            throw new IllegalArgumentException("a restore record needs random bytes");
        }
    }

    /** A record for now with {@code SEED_BYTES} bytes from {@code random}. */
    public static RestoreRecord fresh(GuestParams params, java.security.SecureRandom random) {
        return fresh(params, random, true);
    }

    /** As above; {@code reseed} false only to demonstrate what the reseed prevents ({@link #ENV_INSECURE_NO_RESEED}). */
    public static RestoreRecord fresh(GuestParams params, java.security.SecureRandom random, boolean reseed) {
        byte[] seed = new byte[SEED_BYTES];
        random.nextBytes(seed);
        java.time.Instant now = java.time.Instant.now();
        return new RestoreRecord(now.getEpochSecond() * 1_000_000_000L + now.getNano(), seed, params, reseed);
    }

    /** The line, newline-terminated. */
    public String toLine() {
        return "ukernel.wall=" + wallNs + " ukernel.seed=" + HexFormat.of().formatHex(seed) + " "
                + (reseed ? "" : "ukernel.reseed=0 ") + params.toCmdline() + "\n";
    }

    /**
     * Reads a line written by {@link #toLine}.
     *
     * @throws IllegalArgumentException if the clock or the seed is missing or malformed
     */
    public static RestoreRecord parse(String line) {
        Optional<Long> wall = Optional.empty();
        byte[] seed = null;
        boolean reseed = true;
        for (String word : line.strip().split("\\s+")) {
            if (word.startsWith("ukernel.wall=")) {
                wall = Optional.of(Long.parseLong(word.substring("ukernel.wall=".length())));
            } else if (word.equals("ukernel.reseed=0")) {
                reseed = false;
            } else if (word.startsWith("ukernel.seed=")) {
                seed = HexFormat.of().parseHex(word.substring("ukernel.seed=".length()));
            }
        }
        if (wall.isEmpty() || seed == null) {
            throw new IllegalArgumentException("not a restore record (no ukernel.wall= or ukernel.seed=)");
        }
        return new RestoreRecord(wall.get(), seed, GuestParams.parse(line), reseed);
    }

    /** Whether a kernel command line asks the guest to wait at the snapshot point. */
    public static boolean snapshotMode(String cmdline) {
        return java.util.Arrays.asList(cmdline.strip().split("\\s+")).contains(SNAPSHOT_WORD);
    }
}
