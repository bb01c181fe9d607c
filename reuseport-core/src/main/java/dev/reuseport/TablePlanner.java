package dev.reuseport;

import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.bpf.SteerProgram.Mode;
import java.util.Arrays;

/**
 * Turns a policy and the live slots into what the steering program reads: a mode and a table of slot
 * ids. Pure computation; the consistent table is derived from the previous one so that membership
 * changes move as little as possible.
 */
final class TablePlanner {
    /** Entries of the consistent (hash) table: a prime, so Maglev permutations cover it. */
    static final int CONSISTENT_SIZE = 4093;

    /** A mode and its table. */
    record Plan(Mode mode, int[] table) {
        Plan {
            table = table.clone();
        }

        @Override
        public int[] table() {
            return table.clone();
        }

        int length() {
            return table.length;
        }

        int at(int i) {
            return table[i];
        }
    }

    private TablePlanner() {
    }

    /**
     * The plan for {@code policy} over {@code live} (ascending slot ids). {@code previous} is the plan
     * in force (may be null); {@code cpus} the possible CPU count.
     */
    static Plan plan(Policy policy, int[] live, Plan previous, int cpus) {
        if (live.length == 0) {
            throw new IllegalStateException("no live worker to steer to");
        }
        if (policy instanceof Policy.KernelHash) {
            return new Plan(Mode.PASS, new int[0]);
        }
        if (policy instanceof Policy.RoundRobin) {
            return new Plan(Mode.SEQ, live);
        }
        if (policy instanceof Policy.Sticky) {
            return new Plan(Mode.STICKY, live);
        }
        if (policy instanceof Policy.Cpu) {
            int[] t = new int[Math.max(1, cpus)];
            for (int c = 0; c < t.length; c++) {
                t[c] = live[c % live.length];
            }
            return new Plan(Mode.CPU, t);
        }
        if (policy instanceof Policy.Weighted w) {
            return new Plan(Mode.SEQ, smoothWeighted(w, live));
        }
        if (previous != null && previous.mode() == Mode.HASH && previous.length() == CONSISTENT_SIZE) {
            return new Plan(Mode.HASH, rebalance(previous.table(), live));
        }
        return new Plan(Mode.HASH, maglev(live, CONSISTENT_SIZE));
    }

    /**
     * nginx's smooth weighted round robin over the live slots: a sequence of length sum(weights) in
     * which each slot appears exactly its weight times, spread out rather than in runs.
     */
    static int[] smoothWeighted(Policy.Weighted w, int[] live) {
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

    /** Maglev population of a table of {@code m} (prime) entries over {@code live}. */
    static int[] maglev(int[] live, int m) {
        int n = live.length;
        long[] offset = new long[n];
        long[] skip = new long[n];
        for (int i = 0; i < n; i++) {
            offset[i] = Long.remainderUnsigned(mix(live[i], 0x9E3779B97F4A7C15L), m);
            skip[i] = Long.remainderUnsigned(mix(live[i], 0xC2B2AE3D27D4EB4FL), m - 1) + 1;
        }
        int[] table = new int[m];
        Arrays.fill(table, -1);
        long[] next = new long[n];
        int filled = 0;
        while (true) {
            for (int i = 0; i < n; i++) {
                int c = (int) ((offset[i] + next[i] * skip[i]) % m);
                while (table[c] >= 0) {
                    next[i]++;
                    c = (int) ((offset[i] + next[i] * skip[i]) % m);
                }
                table[c] = live[i];
                next[i]++;
                if (++filled == m) {
                    return table;
                }
            }
        }
    }

    /**
     * The previous table adjusted to {@code live}: entries of slots that left go to the survivor with
     * the fewest entries; a slot that joined takes entries (along its Maglev permutation) only from
     * slots above their fair share. No other entry changes.
     */
    static int[] rebalance(int[] previous, int[] live) {
        int m = previous.length;
        int[] table = previous.clone();
        int[] count = new int[ReuseportGroup.MAX_WORKERS];
        boolean[] alive = new boolean[ReuseportGroup.MAX_WORKERS];
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
