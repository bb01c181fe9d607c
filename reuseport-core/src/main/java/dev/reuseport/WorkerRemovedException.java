package dev.reuseport;

/**
 * Thrown by a call on a {@link Worker} that was removed from its group ({@link ReuseportGroup#removeWorker}
 * or a shrinking {@link ReuseportGroup#resize resize}) while the group itself stays open: stop serving this
 * worker (the others, and any added later, are still there). It extends {@link GroupClosedException} so
 * that a worker loop written to end on that ends on this too, but its message says what happened instead
 * of "open a new group". {@link Worker#isRemoved()} says the same without a call.
 */
public final class WorkerRemovedException extends GroupClosedException {
    private static final long serialVersionUID = 1L;

    /**
     * Names the worker.
     *
     * @param slot  the removed worker's slot
     * @param group the group it belonged to, e.g. {@code group TCP 127.0.0.1:8080}
     */
    public WorkerRemovedException(int slot, String group) {
        super("worker " + slot + " was removed from " + group + " (the group is still open; stop serving "
                + "this worker, its queue went to the others)", true);
    }
}
