package dev.reuseport.examples.bench.harness;

import dev.reuseport.Connection;
import dev.reuseport.GroupClosedException;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The library's workers, a thread each: accept, echo one byte, close. */
public final class OneByteEcho implements AutoCloseable {
    private final ReuseportGroup group;
    private final List<Thread> threads = Collections.synchronizedList(new ArrayList<>());
    private volatile boolean stopping;
    public final ServerErrors errors = new ServerErrors();

    public OneByteEcho(ReuseportGroup group) {
        this.group = group;
        serve(group.workers());
    }

    public void serve(List<Worker> ws) {
        for (Worker w : ws) {
            Thread t = new Thread(() -> run(w), "group-worker-" + w.slot());
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    private void run(Worker w) {
        ByteBuffer buf = ByteBuffer.allocateDirect(16);
        while (!stopping) {
            Connection c;
            try {
                c = w.accept(Duration.ofMillis(50));
            } catch (GroupClosedException e) {
                return; // the worker was removed, or the group closed
            } catch (IOException | RuntimeException e) {
                errors.add("accept: " + e.getMessage());
                continue;
            }
            if (c != null) {
                try (c) {
                    Sys.setTimeouts(c.fd(), ConnLoad.TIMEOUT_MILLIS);
                    buf.clear().limit(1);
                    int n = c.read(buf);
                    if (n != 1) {
                        errors.add("read: " + (n < 0 ? "end of stream" : "timed out"));
                        continue;
                    }
                    buf.flip();
                    c.writeFully(buf);
                } catch (IOException e) {
                    errors.add(e.getMessage());
                }
            }
        }
    }

    public void stop() throws InterruptedException {
        stopping = true;
        for (Thread t : new ArrayList<>(threads)) {
            t.join(2000);
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
