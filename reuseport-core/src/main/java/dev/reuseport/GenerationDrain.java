package dev.reuseport;

import dev.reuseport.bpf.Dissector;
import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.internal.steer.Steering;
import java.io.IOException;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Socket generations across processes, as the facade sees them. A UDP group whose dissector keeps state
 * (QUIC connection ids, a cookie at an offset, flows) is taken over by a new process that opens its own
 * sockets as a new generation ({@link GroupOpening}); the old process's group then <em>drains</em>: it
 * keeps serving the cookies and flows of its own generation, its steering frozen (the new process's table
 * is in force), until the application closes it, which retires its generation (its cookies count as
 * "gone" from then on). When the old process dies instead, the new one retires its generation once its
 * sockets have left ({@link #watch}).
 */
final class GenerationDrain {
    private static final System.Logger LOG = System.getLogger("dev.reuseport");

    /** Whether a group of {@code protocol} with {@code dissector} and {@code policy} can have generations. */
    static boolean stateful(Protocol protocol, Dissector dissector, Policy policy) {
        return protocol == Protocol.UDP && dissector.kind() != Dissector.Kind.NONE
                && !(policy instanceof Policy.KernelHash) && !"off".equals(System.getProperty(PROPERTY));
    }

    /**
     * The system property that turns generations off on the side taking over ({@code off}): the hand-off
     * then passes the sockets themselves, as for TCP (the baseline the QUIC bench measures against).
     */
    static final String PROPERTY = "reuseport.generations";

    /**
     * Old side, after a proven hand-off whose peer says it serves {@code generation}: checks that the
     * program names that generation LIVE and working, and another than this group's own; then freezes this
     * group's steering (it drains: {@link Steering#supersede}).
     *
     * @throws IllegalStateException with the reason when the group cannot drain into {@code generation}
     */
    static void start(Protocol protocol, GroupSteering steering, int generation) {
        if (protocol != Protocol.UDP) {
            throw new IllegalStateException("a TCP group has no socket generations; accepted: plain serving");
        }
        Steering s = steering.inner();
        try {
            SteerProgram p = s.program();
            if (p == null || !p.dissects()) {
                throw new IllegalStateException("no steering program with dissectors is attached here");
            }
            int own = s.workingGeneration();
            SteerProgram.Generation g = p.generation(generation);
            if (generation == own || g.state() != SteerProgram.GenerationState.LIVE
                    || p.workingGeneration() != generation) {
                throw new IllegalStateException("generation " + generation + " is " + g.state()
                        + (p.workingGeneration() != generation ? ", not the working one (" + p.workingGeneration()
                        + ")" : "") + (generation == own ? ", this group's own" : "")
                        + "; accepted: a new LIVE working generation");
            }
            s.supersede("generation " + generation + " of the process that took over works (slots " + g.base()
                    + ".." + (g.base() + g.count() - 1) + ")");
        } catch (IOException e) {
            throw new IllegalStateException("the steering maps cannot be read: " + e.getMessage(), e);
        }
    }

    /** Before a group's sockets close: a draining one retires its generation (a failure is logged). */
    static void retire(GroupSteering steering, String name) {
        try {
            steering.inner().retireOwn();
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, name + ": retiring its generation failed (" + e.getMessage()
                    + "); the process that took over retires it once these sockets are gone");
        }
    }

    /**
     * New side: while other generations are live, checks every {@code period} whether their sockets are all
     * gone (their process exited or died) and retires them; ends when none is left or the group closes. A
     * failed check (a map read or write) is logged and tried again, the wait doubling up to
     * {@value #MAX_BACKOFF} periods: one error must not leave a dead process's generation live for good.
     */
    static void watch(String name, GroupSteering steering, int[] others, BooleanSupplier closed, Duration period) {
        if (others.length == 0) {
            return;
        }
        Thread t = new Thread(() -> watchLoop(name, () -> steering.inner().retireDeadGenerations(others), closed,
                period), "reuseport-generations");
        t.setDaemon(true);
        t.start();
    }

    /** One check of {@link #watch}: the generations still live, or an exception. */
    interface Check {
        int liveOthers() throws IOException;
    }

    /** The longest wait after failed checks, in periods. */
    static final int MAX_BACKOFF = 32;

    /**
     * {@link #watch}'s loop on the calling thread: checks until none is left, the group closes or the thread
     * is interrupted; returns how many checks failed.
     */
    static int watchLoop(String name, Check check, BooleanSupplier closed, Duration period) {
        int failures = 0;
        int backoff = 1;
        while (!closed.getAsBoolean()) {
            try {
                if (check.liveOthers() <= 0) {
                    if (failures > 0) {
                        LOG.log(System.Logger.Level.INFO, name + ": old socket generations checked again after "
                                + failures + " failed checks; none is left");
                    }
                    return failures;
                }
                backoff = 1;
            } catch (IOException | RuntimeException e) {
                failures++;
                backoff = Math.min(MAX_BACKOFF, backoff * 2);
                LOG.log(System.Logger.Level.WARNING, name + ": checking old socket generations failed (" + failures
                        + (failures == 1 ? " time" : " times") + "): " + e.getMessage() + "; trying again in "
                        + backoff * period.toMillis() + " ms");
            }
            try {
                Thread.sleep(backoff * period.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return failures;
            }
        }
        return failures;
    }
}
