package dev.reuseport.internal.wire;

import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The deadlines of the request lines a control socket's sessions are waiting for: a session whose line is
 * not complete by its deadline (a slow or silent client) is shut down (SHUT_RDWR), so that its read ends
 * and its thread and session slot are free again.
 */
public final class RequestDeadlines {
    private static final System.Logger LOG = System.getLogger("dev.reuseport.control");

    private final Map<ControlLines, Long> deadlines = new ConcurrentHashMap<>();
    private final AtomicLong timedOut = new AtomicLong();

    /**
     * A session starts waiting for a request line that must be complete by {@code deadline}.
     *
     * @param lines    the session
     * @param deadline {@link System#nanoTime()} by which the line must be read
     */
    public void waiting(ControlLines lines, long deadline) {
        deadlines.put(lines, deadline);
    }

    /**
     * The session is no longer waiting (its line came, or it ended).
     *
     * @param lines the session
     */
    public void done(ControlLines lines) {
        deadlines.remove(lines);
    }

    /**
     * Sessions ended because their line was late.
     *
     * @return the count since this object was made
     */
    public long timedOut() {
        return timedOut.get();
    }

    /**
     * Checks the deadlines every 200 ms until {@code closed} says so or the thread is interrupted; never
     * ends on another failure (logged, naming {@code where}).
     *
     * @param closed whether to stop
     * @param where  names the socket in the log
     */
    public void reapUntil(BooleanSupplier closed, String where) {
        while (!closed.getAsBoolean()) {
            try {
                Thread.sleep(200);
                long now = System.nanoTime();
                for (Map.Entry<ControlLines, Long> e : deadlines.entrySet()) {
                    if (now - e.getValue() > 0 && deadlines.remove(e.getKey(), e.getValue())) {
                        timedOut.incrementAndGet();
                        try {
                            Sys.shutdown(e.getKey().fd(), Sys.SHUT_RDWR);
                        } catch (IOException x) {
                            LOG.log(System.Logger.Level.DEBUG, where + ": deadline: " + x);
                        }
                    }
                }
            } catch (InterruptedException e) {
                return;
            } catch (Throwable e) {
                LOG.log(System.Logger.Level.WARNING, where + ": deadline check failed: " + e);
            }
        }
    }
}
