package dev.reuseport;

import dev.reuseport.internal.member.ChangeSteps;
import dev.reuseport.internal.member.Retirement;
import dev.reuseport.internal.member.SlotTable;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.NativeFd;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What every change script of {@link GroupEngine} runs on to complete or be rolled back: its named steps,
 * where a test injects a failure ({@link ChangeSteps}); the steps after the point of no return, whose
 * failure is kept for the report while the change goes on; and the undo of a change that failed before
 * that point: the steering back to what was saved, then the sockets the change opened out again (their
 * listener loans back, their queues to an heir). The engine decides what a change does and holds its
 * change lock around every call here; this class never refers to the engine.
 */
final class ChangeScript {
    private static final System.Logger LOG = System.getLogger("dev.reuseport");

    private final String group;
    /** A test's fault injection at the steps of a change ({@code GroupSpec.steps()}); none in production. */
    private final ChangeSteps steps;
    private final AuditLog audit;
    private final GroupSteering steering;
    private final SlotTable<Worker> members;
    private final ListenerLoans listeners;
    private final Retirement retirement;

    /**
     * The frame for the changes of one group (every part shared with its engine).
     *
     * @param group      the group's name, for messages
     * @param steps      the test's fault injection, {@link ChangeSteps#NONE} in production
     * @param audit      the group's trail
     * @param steering   the group's steering half
     * @param members    the slot table
     * @param listeners  the group's listener loans
     * @param retirement how a member socket leaves
     */
    ChangeScript(String group, ChangeSteps steps, AuditLog audit, GroupSteering steering, SlotTable<Worker> members,
                 ListenerLoans listeners, Retirement retirement) {
        this.group = group;
        this.steps = steps;
        this.audit = audit;
        this.steering = steering;
        this.members = members;
        this.listeners = listeners;
        this.retirement = retirement;
    }

    /** A step of a change, where a test may inject a failure ({@link ChangeSteps}). */
    void step(String change, String step) throws IOException {
        steps.at(change, step);
    }

    /** A step after the point of no return: a failure is kept for the report, the change goes on. */
    IOException finish(IOException late, String change, String step, NativeStep action) {
        try {
            steps.at(change, step);
            if (action != null) {
                action.run();
            }
            return late;
        } catch (IOException | RuntimeException e) {
            audit.record("change-incomplete", "change", change, "step", step, "error", e.toString(),
                    "outcome", "completed; this step's work is left undone");
            LOG.log(System.Logger.Level.WARNING, group + ": " + change + " completed, but " + step + " failed: " + e);
            return addTo(late, e instanceof IOException io ? io : new IOException(e.toString(), e));
        }
    }

    /** A step that may fail natively. */
    interface NativeStep {
        /**
         * Does the step's work.
         *
         * @throws IOException when it fails
         */
        void run() throws IOException;
    }

    /** {@code next} added to {@code first} (suppressed in it), or {@code next} when it is the first failure. */
    static IOException addTo(IOException first, IOException next) {
        if (first == null) {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }

    /** Puts the steering back to {@code saved} after {@code failure}; a rollback failure is suppressed in it. */
    void rollBack(Throwable failure, String change, GroupSteering.Saved saved, int[] fds) {
        if (fds.length == 0 && steering.tableVersion() == saved.steering().tableVersion()
                && steering.policy() == saved.policy()) {
            return; // a policy or shadow refused before it changed anything (a bad argument): nothing to undo
        }
        try {
            steering.rollback(saved, fds, change + " failed");
        } catch (NativeException | RuntimeException r) {
            failure.addSuppressed(r);
            audit.record("rollback-incomplete", "change", change, "error", r.getMessage());
        }
        audit.record("rolled-back", "change", change, "error", failure.toString(), "table_version",
                steering.tableVersion(), "workers", members.live().size());
    }

    /** Takes back workers a failed change added: steering first (saved table and version), then their sockets. */
    void undoAdds(Throwable failure, String change, GroupSteering.Saved saved, List<Worker> added) {
        int[] empty = new int[saved.slots().length];
        Arrays.fill(empty, -1);
        for (Worker w : added) {
            if (members.get(w.slot()) == w) {
                members.set(w.slot(), null);
            }
        }
        rollBack(failure, change, saved, empty);
        if (steering.attached()) {
            Retirement.settle();
        }
        List<NativeFd> old = new ArrayList<>();
        Worker heir = members.live().get(0);
        for (Worker w : added) {
            NativeFd f = w.socket();
            boolean external = listeners.leave(w, f);
            w.markRemoved();
            try {
                retirement.retire(f, listeners.heir(heir), external, steering.migrates());
            } catch (NativeException c) {
                failure.addSuppressed(c);
            }
            old.add(f);
        }
        retirement.awaitReleased(old);
    }

    /**
     * Takes back the next socket generation of {@code ws} that a failed swap opened ({@code next}, null
     * where none was opened yet): the socket-array entries ({@code oldFds}) and the table with its version
     * restored, a grace period when the program was attached, then each new socket's listener loans back and
     * the socket retired into its worker. The old sockets keep serving.
     */
    void undoSwap(Throwable failure, String change, GroupSteering.Saved saved, int[] oldFds, boolean attached,
                  List<Worker> ws, NativeFd[] next) {
        rollBack(failure, change, saved, oldFds);
        if (attached) {
            Retirement.settle();
        }
        List<NativeFd> gone = new ArrayList<>();
        for (int i = 0; i < next.length; i++) {
            if (next[i] == null) {
                continue;
            }
            boolean external = listeners.leave(ws.get(i), next[i]);
            try {
                retirement.retire(next[i], listeners.heir(ws.get(i)), external, steering.migrates());
            } catch (NativeException c) {
                failure.addSuppressed(c);
            }
            gone.add(next[i]);
        }
        retirement.awaitReleased(gone);
    }
}
