package dev.reuseport.internal.steer;

import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.internal.Audit;
import dev.reuseport.sys.NativeException;
import java.io.IOException;

/**
 * The steps of socket generations on a steering program's maps ({@link Steering} holds the state): the
 * first generation's range, setting a new one up, retiring the own one, retiring those whose sockets are
 * gone. A generation is changed only while it is not live (its entry is written whole before its first
 * cookie), so a datagram never reads half an entry.
 */
public final class GenerationSteps {
    /** A generation's slots: a quarter of the socket array, so that four generations live at once. */
    public static final int GENERATION_SLOTS = SteerProgram.MAX_SLOTS / 4;

    /** A step that may fail with an I/O error. */
    public interface Step {
        /**
         * Runs.
         *
         * @throws IOException when a map update fails
         */
        void run() throws IOException;
    }

    private GenerationSteps() {
    }

    /**
     * Slots of a group's first generation: {@link #GENERATION_SLOTS}, or up to the highest slot in use when
     * that is higher.
     *
     * @param program the program
     * @return the count from slot 0
     * @throws NativeException when a lookup fails
     */
    public static int firstSlots(SteerProgram program) throws NativeException {
        for (int i = SteerProgram.MAX_SLOTS - 1; i >= GENERATION_SLOTS; i--) {
            if (program.slots().cookie(i) != 0) {
                return i + 1;
            }
        }
        return GENERATION_SLOTS;
    }

    /**
     * Sets a new generation up beside the live ones: its sockets into their slots, then its range and key,
     * LIVE. New flows do not reach it before a table names its slots.
     *
     * @param program the program
     * @param audit   the trail
     * @param number  the generation, not live now
     * @param base    its first slot
     * @param count   its slots
     * @param key     the key of its cookies' check bits
     * @param slots   the slots of its sockets, within the range
     * @param fds     their sockets, in that order
     * @throws NativeException when a map update fails
     */
    public static void start(SteerProgram program, Audit audit, int number, int base, int count, int key, int[] slots,
                             int[] fds) throws NativeException {
        if (program == null || !program.dissects()) {
            throw new IllegalStateException("no steering program with dissectors attached");
        }
        for (int i = 0; i < slots.length; i++) {
            program.slots().set(slots[i], fds[i]);
        }
        program.setGeneration(number, base, count, key);
        audit.record("generation-live", "generation", number, "base", base, "slots", count, "sockets", slots.length);
    }

    /**
     * Retires generation {@code number} if its entry still holds it (LIVE under {@code key}): its cookies and
     * flows count as "gone" from then on and go by the policy.
     *
     * @param program the program
     * @param audit   the trail
     * @param number  the generation
     * @param key     its key
     * @param why     the reason, for the trail
     * @return whether it was retired
     * @throws NativeException when a map operation fails
     */
    public static boolean retire(SteerProgram program, Audit audit, int number, int key, String why)
            throws NativeException {
        if (!program.dissects()) {
            return false;
        }
        SteerProgram.Generation g = program.generation(number);
        if (g.state() != SteerProgram.GenerationState.LIVE || g.key() != key) {
            return false;
        }
        program.retireGeneration(number);
        audit.record("generation-retired", "generation", number, "reason", why, "by", "the old side");
        return true;
    }

    /**
     * Retires each of {@code numbers} that is live, not {@code working}, and whose slots are all empty: its
     * process exited or died without retiring it.
     *
     * @param program the program
     * @param audit   the trail
     * @param working the working generation (never retired here)
     * @param numbers the generations to check
     * @return how many of them are still live after this pass
     * @throws NativeException when a map operation fails
     */
    public static int retireDead(SteerProgram program, Audit audit, int working, int[] numbers)
            throws NativeException {
        int live = 0;
        for (int n : numbers) {
            SteerProgram.Generation g = program.generation(n);
            if (n == working || g.state() != SteerProgram.GenerationState.LIVE) {
                continue;
            }
            boolean empty = true;
            for (int slot = g.base(); slot < g.base() + g.count() && slot < SteerProgram.MAX_SLOTS && empty; slot++) {
                empty = program.slots().cookie(slot) == 0;
            }
            if (empty) {
                program.retireGeneration(n);
                audit.record("generation-retired", "generation", n, "base", g.base(), "slots", g.count(), "by",
                        "the new side: the old process's sockets are gone");
            } else {
                live++;
            }
        }
        return live;
    }
}
