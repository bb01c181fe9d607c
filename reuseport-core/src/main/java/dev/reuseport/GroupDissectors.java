package dev.reuseport;

import dev.reuseport.bpf.Dissector;
import dev.reuseport.bpf.SteerProgram;
import java.io.IOException;
import java.util.List;

/**
 * What a group's steering program reads in a datagram and counts: the dissector in force, its counters,
 * the routing-cookie parameters, the per-slot counters. The public methods here are
 * {@link ReuseportGroup}'s (its only subclass; javadoc shows them there): each checks its arguments and
 * makes one call to the engine, as the rest of the facade does, and none takes a lock of its own.
 */
abstract sealed class GroupDissectors extends GroupLending permits ReuseportGroup {
    GroupDissectors() {
    }

    /**
     * Puts a dissector in force for this UDP group at run time, as {@link ReuseportGroup#policy(Policy)} switches
     * policies: what the steering program reads in each datagram before the policy decides (a QUIC
     * connection id's routing cookie, a key at a payload offset, the flow) — see {@link
     * dev.reuseport.bpf.Dissector}. A datagram without a valid cookie, a malformed one, or one whose
     * cookie names a slot that is gone is steered by the policy, never dropped. A group without a program
     * loads and attaches one; with the kernel-hash policy (pass mode) the dissector is set but dormant
     * until a table policy is in force, and {@link ReuseportGroup#capabilities()} says so. {@link Dissector#none()}
     * turns dissecting off.
     *
     * @param next the dissector
     * @return the capability report after the switch (its reason names the dissector and its state)
     * @throws IllegalArgumentException when {@code next} is null, or a dissector other than none is asked
     *                                  of a TCP group (dissectors read UDP datagrams only)
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a map update fails (the previous dissector stays in force; audited)
     */
    public Capabilities dissector(Dissector next) throws IOException {
        BuilderChecks.dissector(((ReuseportGroup) this).protocol(), next);
        return engine().dissector(next);
    }

    /**
     * The dissector in force.
     *
     * @return {@link Dissector#none()} unless one was set (or a hand-off delivered one)
     */
    public Dissector dissector() {
        return engine().steering().dissector();
    }

    /**
     * Every dissector's counters from the steering program: datagrams steered by a cookie, without a valid
     * cookie, with a cookie for a slot or generation that is gone, malformed, and the flow dissector's hits
     * and misses.
     *
     * @return one entry per dissector kind but NONE; empty when no program with dissectors is attached
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a map lookup fails
     */
    public java.util.Map<Dissector.Kind, SteerProgram.DissectorCounters> dissectorCounters() throws IOException {
        return engine().steering().dissectorCounters();
    }

    /**
     * The routing-cookie parameters a server needs to issue cookie-bearing connection ids
     * ({@link dev.reuseport.bpf.QuicCid#encode}) for the generation that serves new connections now.
     *
     * @return {@code [working generation, key of its check bits, its first slot]}: a cookie's worker field is
     *         the worker's slot minus that first slot (0 for a group's first generation; a generation set up
     *         by a {@link ReuseportGroup#takeOver take-over} starts further on)
     */
    public int[] cookieGeneration() {
        dev.reuseport.internal.steer.Steering s = engine().steering().inner();
        return new int[] {s.workingGeneration(), s.generationKey(), s.generationBase()};
    }

    /**
     * The socket generations the steering program holds LIVE: this group's working one and those of other
     * processes still draining on the port. A generation leaves this list when its process closes its group
     * (it retires it), or, when that process died, once the process that took over sees its sockets gone
     * (within a quarter of a second): its cookies then count as "gone" and its connections' packets go to the
     * working generation by the policy.
     *
     * @return the live generation numbers, ascending; empty without a program with dissectors
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a map lookup fails
     */
    public List<Integer> liveGenerations() throws IOException {
        ReuseportGroup g = (ReuseportGroup) this;
        if (g.isClosed()) {
            throw new GroupClosedException(g.toString());
        }
        dev.reuseport.bpf.SteerProgram p = engine().steering().inner().program();
        return p == null ? List.of() : dev.reuseport.internal.gen.LiveGenerations.numbers(p);
    }

    /**
     * Whether another process took this UDP group over with a socket generation of its own
     * ({@link ReuseportGroup#takeOver}): this group now <em>drains</em>. A new process taking over a UDP group
     * whose dissector keeps state (QUIC connection ids, a cookie at an offset, flows) under a table policy
     * opens its own sockets in the same reuseport group as a new socket generation (a fresh range of slots,
     * a new key for its cookies' check bits), publishes the policy's table over them and makes the
     * generation the working one, so new flows and QUIC Initials go there at once. This group's sockets keep
     * receiving every packet that bears its generation's cookies (and its known flows), so its sessions go
     * on; its membership and steering are frozen (restarts, resizes and policy changes are refused; a
     * fallback skips the pass), since the other process steers the port. Serve the sessions you have, then
     * {@link ReuseportGroup#close()} the group: that retires its generation, and its cookies count as "gone"
     * from then on. If this process dies instead, the new one retires the generation once its sockets are
     * gone. At least four generations live at once; numbers wrap (0..255).
     *
     * @return true once a hand-off with socket generations completed through this group's control socket
     */
    public boolean draining() {
        try {
            return engine().steering().inner().awaitSuperseded(0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Waits until this group {@link #draining() drains}: the old process's drain hook, which then waits for
     * its sessions to end (or a deadline of its own) and closes the group.
     *
     * @param timeout how long to wait at most (millisecond resolution)
     * @return true when the group drains, false when the time ran out first (or the hand-off passed the
     *         sockets themselves: see {@link ControlSocket#awaitHandOff})
     * @throws InterruptedException when the waiting thread is interrupted
     */
    public boolean awaitDraining(java.time.Duration timeout) throws InterruptedException {
        return engine().steering().inner().awaitSuperseded(timeout.toMillis());
    }

    /**
     * Per-slot counters of the steering program (selected, would-have-selected in shadow, migrated,
     * fallback), index = slot id; empty when no program is attached.
     *
     * @return the counters of slots 0 to the highest live slot, summed over CPUs since the program was
     *         loaded; empty without a program
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a map lookup fails
     */
    public List<SteerProgram.SlotCounters> steeringCounters() throws IOException {
        return engine().steering().counters();
    }
}
