package dev.reuseport;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A worker's counts of the datagrams its ingest paths received and sent ({@link Worker#receive(DatagramBatch,
 * java.time.Duration)}, {@link Worker#send(DatagramBatch)} and the zero-allocation receive). Each count is a
 * plain field written with opaque stores by the one thread that receives (or sends) on the worker: no
 * allocation, no contended atomic. Concurrent receivers on one worker may undercount.
 */
final class IngestCounters {
    private static final VarHandle RECEIVED;
    private static final VarHandle SENT;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            RECEIVED = l.findVarHandle(IngestCounters.class, "received", long.class);
            SENT = l.findVarHandle(IngestCounters.class, "sent", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused")
    private long received;
    @SuppressWarnings("unused")
    private long sent;

    /** Counts {@code n} datagrams received. */
    void received(long n) {
        RECEIVED.setOpaque(this, (long) RECEIVED.getOpaque(this) + n);
    }

    /** Counts {@code n} datagrams sent. */
    void sent(long n) {
        SENT.setOpaque(this, (long) SENT.getOpaque(this) + n);
    }

    long received() {
        return (long) RECEIVED.getOpaque(this);
    }

    long sent() {
        return (long) SENT.getOpaque(this);
    }
}
