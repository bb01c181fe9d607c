package dev.reuseport.internal.steer;

import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.bpf.SteerProgram.Mode;
import java.util.Arrays;

/**
 * Turns a policy and the live slots into what the steering program reads: a mode and a table of slot
 * ids. Pure computation; the consistent table is derived from the previous one so that membership
 * changes move as little as possible.
 *
 * <p>The consistent table starts kernel-aligned: the program indexes it as the kernel indexes its
 * socket array, {@code reciprocal_scale(hash, length)}, and a fresh table is the live slots in contiguous
 * blocks of equal length, in slot order. While the members are the ones the group opened with (the
 * kernel's socket array in slot order), every flow goes exactly where the kernel hash sends it, so
 * switching between the kernel hash and the consistent policy (enforce, fallback) moves no flow; when a
 * member leaves or joins, only its entries change, where the kernel would reshuffle about half the flows.
 */
public final class TablePlanner {
    /** At most this many entries in a consistent table; a fresh one has the largest multiple of the live count. */
    public static final int CONSISTENT_MAX = 4096;

    /** The most slots a table names (the size of the program's socket array). */
    public static final int MAX_SLOTS = 256;

    /** What a policy asks of the table, in the planner's terms (the group translates its policy). */
    public enum Kind {
        /** The kernel hash decides (mode PASS). */
        KERNEL_HASH,
        /** A sequence over the live slots. */
        ROUND_ROBIN,
        /** Flows stay on the slot that first got them. */
        STICKY,
        /** The slot by the receiving CPU. */
        CPU,
        /** A sequence holding each slot its weight times. */
        WEIGHTED,
        /** A hash table that moves little when membership changes. */
        CONSISTENT
    }

    /**
     * A policy as the planner reads it.
     *
     * @param kind    which table
     * @param spec    the policy's text, for messages
     * @param weights the weight of each slot (index = slot id) for {@link Kind#WEIGHTED}, else empty
     */
    public record Rule(Kind kind, String spec, int[] weights) {
        /** Copies the weights. */
        public Rule {
            weights = weights.clone();
        }

        int weight(int slot) {
            return slot < weights.length ? weights[slot] : 0;
        }
    }

    /** A mode and its table. */
    public record Plan(Mode mode, int[] table) {
        /** Copies the table. */
        public Plan {
            table = table.clone();
        }

        @Override
        public int[] table() {
            return table.clone();
        }

        public int length() {
            return table.length;
        }

        public int at(int i) {
            return table[i];
        }
    }

    private TablePlanner() {
    }

    /**
     * The plan for {@code policy} over {@code live} (ascending slot ids). {@code previous} is the plan
     * in force (may be null); {@code cpus} the possible CPU count.
     */
    public static Plan plan(Rule policy, int[] live, Plan previous, int cpus) {
        if (live.length == 0) {
            throw new IllegalStateException("no live worker to steer to");
        }
        if (policy.kind() == Kind.KERNEL_HASH) {
            return new Plan(Mode.PASS, new int[0]);
        }
        if (policy.kind() == Kind.ROUND_ROBIN) {
            return new Plan(Mode.SEQ, live);
        }
        if (policy.kind() == Kind.STICKY) {
            return new Plan(Mode.STICKY, live);
        }
        if (policy.kind() == Kind.CPU) {
            int[] t = new int[Math.max(1, cpus)];
            for (int c = 0; c < t.length; c++) {
                t[c] = live[c % live.length];
            }
            return new Plan(Mode.CPU, t);
        }
        if (policy.kind() == Kind.WEIGHTED) {
            return new Plan(Mode.SEQ, smoothWeighted(policy, live));
        }
        if (previous != null && previous.mode() == Mode.HASH && previous.length() >= live.length) {
            return new Plan(Mode.HASH, rebalance(previous.table(), live));
        }
        return new Plan(Mode.HASH, blocks(live));
    }

    /**
     * A fresh consistent table: {@code live} in contiguous blocks of {@code CONSISTENT_MAX / n} entries
     * each, in order, so that entry {@code reciprocal_scale(h, length)} is {@code live[reciprocal_scale(h, n)]}
     * for every hash {@code h}: the kernel's own choice among n sockets in that order.
     */
    static int[] blocks(int[] live) {
        int n = live.length;
        int per = CONSISTENT_MAX / n;
        int[] table = new int[per * n];
        for (int i = 0; i < table.length; i++) {
            table[i] = live[i / per];
        }
        return table;
    }

    /**
     * nginx's smooth weighted round robin over the live slots: a sequence of length sum(weights) in
     * which each slot appears exactly its weight times, spread out rather than in runs.
     */
    static int[] smoothWeighted(Rule w, int[] live) {
        int[] weight = new int[live.length];
        int total = 0;
        for (int i = 0; i < live.length; i++) {
            weight[i] = w.weight(live[i]);
            total += weight[i];
        }
        if (total == 0) {
            throw new IllegalArgumentException("policy " + w.spec() + " gives every live slot "
                    + Arrays.toString(live) + " weight 0; accepted: at least one live slot with weight > 0");
        }
        int[] current = new int[live.length];
        int[] seq = new int[total];
        for (int k = 0; k < total; k++) {
            int best = -1;
            for (int i = 0; i < live.length; i++) {
                current[i] += weight[i];
                if (weight[i] > 0 && (best < 0 || current[i] > current[best])) {
                    best = i;
                }
            }
            current[best] -= total;
            seq[k] = live[best];
        }
        return seq;
    }

    /**
     * The previous table adjusted to {@code live}: entries of slots that left go to the survivor with
     * the fewest entries; a slot that joined takes entries (along a permutation of the table seeded by
     * its slot id) only from slots above their fair share. No other entry changes.
     */
    static int[] rebalance(int[] previous, int[] live) {
        int m = previous.length;
        int[] table = previous.clone();
        int[] count = new int[MAX_SLOTS];
        boolean[] alive = new boolean[MAX_SLOTS];
        for (int s : live) {
            alive[s] = true;
        }
        for (int s : table) {
            if (alive[s]) {
                count[s]++;
            }
        }
        for (int i = 0; i < m; i++) {
            if (!alive[table[i]]) {
                int best = live[0];
                for (int s : live) {
                    if (count[s] < count[best]) {
                        best = s;
                    }
                }
                table[i] = best;
                count[best]++;
            }
        }
        int target = m / live.length;
        for (int t : live) {
            if (count[t] >= target) {
                continue;
            }
            long offset = Long.remainderUnsigned(mix(t, 0x9E3779B97F4A7C15L), m);
            long skip = Long.remainderUnsigned(mix(t, 0xC2B2AE3D27D4EB4FL), m - 1) + 1;
            while (gcd(skip, m) != 1) {
                skip = skip % (m - 1) + 1; // a step coprime with m visits every entry once
            }
            for (long j = 0; j < m && count[t] < target; j++) {
                int c = (int) ((offset + j * skip) % m);
                int owner = table[c];
                if (owner != t && count[owner] > target) {
                    table[c] = t;
                    count[owner]--;
                    count[t]++;
                }
            }
        }
        return table;
    }

    private static long gcd(long a, long b) {
        while (b != 0) {
            long r = a % b;
            a = b;
            b = r;
        }
        return a;
    }

    /** splitmix64 finaliser of {@code v} with a seed. */
    static long mix(long v, long seed) {
        long z = v * 0x9E3779B97F4A7C15L + seed;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The table must fit the program. */
    static void checkFits(Plan plan) {
        if (plan.length() > SteerProgram.TABLE_MAX) {
            throw new IllegalArgumentException("table of " + plan.length() + " entries; accepted: up to "
                    + SteerProgram.TABLE_MAX);
        }
    }
}
