package dev.reuseport;

import dev.reuseport.internal.wire.Shown;
import java.util.Arrays;
import java.util.Locale;

/**
 * How a group steers new connections (TCP) or datagrams (UDP) between its workers. Every policy but
 * {@link #kernelHash()} needs the eBPF steering program; where the host cannot run it the group stays on
 * the kernel hash and {@link ReuseportGroup#capabilities()} says why.
 *
 * <p>When to use which (the playbook's rule: add eBPF only when you can state the failure mode in one
 * sentence):
 * <ul>
 *   <li>{@link #kernelHash()}: many flows, none heavy; balance max/mean about 1.05–1.10. The default.</li>
 *   <li>{@link #roundRobin()}: TCP connections or stateless UDP datagrams spread exactly evenly, even
 *       from a few heavy senders (each datagram to the next worker).</li>
 *   <li>{@link #consistent()}: a flow keeps its worker; when a worker leaves, only its flows move.</li>
 *   <li>{@link #sticky()}: UDP flows spread evenly (the next worker for each new flow) and remembered, so
 *       a flow stays on its worker and only a leaver's flows move.</li>
 *   <li>{@link #weighted(int...)}: workers of unequal capacity; shares follow the weights exactly.</li>
 *   <li>{@link #cpu()}: the worker by the CPU the packet is processed on (pair with IRQ/RSS pinning).</li>
 * </ul>
 */
public sealed interface Policy permits Policy.KernelHash, Policy.RoundRobin, Policy.Consistent, Policy.Sticky,
        Policy.Weighted, Policy.Cpu {

    /** The most weight units a weighted policy may have in all (the program's table size). */
    int MAX_WEIGHT_SUM = 65537;

    /**
     * The kernel's own choice: a hash of the flow's addresses and ports over the live members, with no
     * program attached. Membership changes move flows of every worker, not only the leaver's.
     *
     * @return the kernel-hash policy, spec {@code kernel-hash}
     */
    static Policy kernelHash() {
        return KernelHash.INSTANCE;
    }

    /**
     * Each new connection or datagram to the next live worker in slot order (a global sequence in the
     * program). Needs the eBPF steering program.
     *
     * @return the round-robin policy, spec {@code round-robin}
     */
    static Policy roundRobin() {
        return RoundRobin.INSTANCE;
    }

    /**
     * The flow's hash indexes a table of slots, derived from the previous table, so that a membership
     * change moves as few flows as it can: a worker leaving moves only its own flows, one joining takes
     * only its share. A fresh table is kernel-aligned (indexed with the kernel's own
     * {@code reciprocal_scale}, the workers in blocks in slot order): while the group has the members
     * it opened with, every flow goes where the kernel hash would send it, so enforcing this policy or
     * falling back from it moves no flow. Needs the eBPF steering program.
     *
     * @return the consistent-hashing policy, spec {@code consistent}
     */
    static Policy consistent() {
        return Consistent.INSTANCE;
    }

    /**
     * A new flow goes to the next worker in sequence and is remembered in the program's LRU flow table,
     * so later packets of the flow stay there; the least recently seen flows are forgotten when the table
     * is full. Needs the eBPF steering program.
     *
     * @return the sticky policy, spec {@code sticky}
     */
    static Policy sticky() {
        return Sticky.INSTANCE;
    }

    /**
     * Shares by weight, one weight per slot (slot 0 first): the program's table repeats each slot as often
     * as its weight, and new connections or datagrams walk the table in sequence. Needs the eBPF steering
     * program.
     *
     * @param weights one per slot, each 0 (no new traffic) or more, at least one positive, at most
     *                {@link ReuseportGroup#MAX_WORKERS} of them, summing to at most {@value #MAX_WEIGHT_SUM}
     * @return the weighted policy, spec {@code weighted:W0,W1,...}
     * @throws IllegalArgumentException naming the weight or sum at fault and what is accepted
     */
    static Policy weighted(int... weights) {
        return new Weighted(weights);
    }

    /**
     * The worker by the CPU that processes the packet in the kernel: CPU c goes to the c-th live worker,
     * modulo their count. Pair it with IRQ/RSS pinning and workers pinned to those CPUs. Needs the eBPF
     * steering program.
     *
     * @return the CPU policy, spec {@code cpu}
     */
    static Policy cpu() {
        return Cpu.INSTANCE;
    }

    /**
     * The policy's name, for configuration, the control socket and the audit trail.
     *
     * @return the spec {@link #parse} reads back to an equal policy, e.g. {@code weighted:1,1,2}
     */
    String spec();

    /**
     * Reads a spec, case-insensitively and ignoring surrounding blanks.
     *
     * @param spec {@code kernel-hash}, {@code round-robin}, {@code consistent}, {@code sticky},
     *             {@code cpu}, or {@code weighted:W0,W1,...}
     * @return the policy
     * @throws IllegalArgumentException when the spec is null, unknown, or its weights are not accepted;
     *                                  the message lists what is accepted
     */
    static Policy parse(String spec) {
        if (spec == null) {
            throw new IllegalArgumentException("policy null is not a policy; accepted: " + Weighted.ACCEPTED);
        }
        String s = spec.trim().toLowerCase(Locale.ROOT);
        switch (s) {
            case "kernel-hash": return kernelHash();
            case "round-robin": return roundRobin();
            case "consistent": return consistent();
            case "sticky": return sticky();
            case "cpu": return cpu();
            default:
                if (s.startsWith("weighted:")) {
                    String[] parts = s.substring(9).split(",", -1);
                    int[] w = new int[parts.length];
                    for (int i = 0; i < parts.length; i++) {
                        try {
                            w[i] = Integer.parseInt(parts[i].trim());
                        } catch (NumberFormatException e) {
                            throw new IllegalArgumentException("policy " + Shown.quote(spec) + ": weight " + Shown.quote(parts[i])
                                    + " is not a whole number; accepted: weighted:W0,W1,... with each W 0 or more");
                        }
                    }
                    return weighted(w);
                }
                throw new IllegalArgumentException("policy " + Shown.quote(spec) + " is unknown; accepted: " + Weighted.ACCEPTED);
        }
    }

    /** The {@link Policy#kernelHash()} policy; one instance. */
    final class KernelHash implements Policy {
        static final KernelHash INSTANCE = new KernelHash();

        private KernelHash() {
        }

        @Override
        public String spec() {
            return "kernel-hash";
        }

        @Override
        public String toString() {
            return spec();
        }
    }

    /** The {@link Policy#roundRobin()} policy; one instance. */
    final class RoundRobin implements Policy {
        static final RoundRobin INSTANCE = new RoundRobin();

        private RoundRobin() {
        }

        @Override
        public String spec() {
            return "round-robin";
        }

        @Override
        public String toString() {
            return spec();
        }
    }

    /** The {@link Policy#consistent()} policy; one instance. */
    final class Consistent implements Policy {
        static final Consistent INSTANCE = new Consistent();

        private Consistent() {
        }

        @Override
        public String spec() {
            return "consistent";
        }

        @Override
        public String toString() {
            return spec();
        }
    }

    /** The {@link Policy#sticky()} policy; one instance. */
    final class Sticky implements Policy {
        static final Sticky INSTANCE = new Sticky();

        private Sticky() {
        }

        @Override
        public String spec() {
            return "sticky";
        }

        @Override
        public String toString() {
            return spec();
        }
    }

    /** The {@link Policy#cpu()} policy; one instance. */
    final class Cpu implements Policy {
        static final Cpu INSTANCE = new Cpu();

        private Cpu() {
        }

        @Override
        public String spec() {
            return "cpu";
        }

        @Override
        public String toString() {
            return spec();
        }
    }

    /** A {@link Policy#weighted(int...)} policy; immutable, equal when the weights are. */
    final class Weighted implements Policy {
        static final String ACCEPTED = "kernel-hash, round-robin, consistent, sticky, cpu, weighted:W0,W1,...";
        private final int[] weights;

        Weighted(int[] weights) {
            if (weights == null || weights.length == 0) {
                throw new IllegalArgumentException("weights " + (weights == null ? "null" : "[]") + " are empty; "
                        + "accepted: one weight per slot, 1.." + ReuseportGroup.MAX_WORKERS + " of them");
            }
            if (weights.length > ReuseportGroup.MAX_WORKERS) {
                throw new IllegalArgumentException(weights.length + " weights; accepted: 1.."
                        + ReuseportGroup.MAX_WORKERS + " (one per slot)");
            }
            long sum = 0;
            for (int i = 0; i < weights.length; i++) {
                if (weights[i] < 0) {
                    throw new IllegalArgumentException("weight " + weights[i] + " of slot " + i
                            + " is negative; accepted: 0 or more");
                }
                sum += weights[i];
            }
            if (sum == 0 || sum > MAX_WEIGHT_SUM) {
                throw new IllegalArgumentException("weights " + Arrays.toString(weights) + " sum to " + sum
                        + "; accepted: a sum of 1.." + MAX_WEIGHT_SUM);
            }
            this.weights = weights.clone();
        }

        /**
         * The weights this policy was made with.
         *
         * @return a copy: the weight of each slot, slot 0 first
         */
        public int[] weights() {
            return weights.clone();
        }

        /** The weight of {@code slot}; 0 past the end. */
        int weight(int slot) {
            return slot < weights.length ? weights[slot] : 0;
        }

        @Override
        public String spec() {
            StringBuilder b = new StringBuilder("weighted:");
            for (int i = 0; i < weights.length; i++) {
                b.append(i == 0 ? "" : ",").append(weights[i]);
            }
            return b.toString();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Weighted w && Arrays.equals(w.weights, weights);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(weights);
        }

        @Override
        public String toString() {
            return spec();
        }
    }
}
