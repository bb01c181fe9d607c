package dev.reuseport.examples.bench.harness;

import dev.reuseport.Connection;
import dev.reuseport.GroupClosedException;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.nio.ByteBuffer;

/** Accept, read the request to its end (the client half-closes), echo it, close. */
public final class CheckedTcpServer extends WorkerThreads {
    public CheckedTcpServer(ReuseportGroup g) {
        super(g);
        serve(g.workers());
    }

    @Override
    public void run(Worker w) {
        ByteBuffer buf = ByteBuffer.allocateDirect(4 * SoakWire.PAYLOAD);
        while (!stopping && System.nanoTime() < hardDeadline) {
            Connection c;
            try {
                c = w.accept(SoakWire.WORKER_WAIT);
            } catch (GroupClosedException e) {
                return; // the worker was removed, or the group closed
            } catch (IOException | RuntimeException e) {
                error("accept: " + e.getMessage());
                continue;
            }
            if (c == null) {
                continue;
            }
            try (c) {
                Sys.setTimeouts(c.fd(), SoakWire.TIMEOUT_MILLIS);
                buf.clear();
                int n = 0;
                for (int i = 0; i < 64 && buf.hasRemaining(); i++) {
                    n = c.read(buf);
                    if (n <= 0) {
                        break;
                    }
                }
                if (n == 0) {
                    error(buf.hasRemaining() ? "read: timed out" : "read: request longer than expected");
                    continue;
                }
                buf.flip();
                c.writeFully(buf);
            } catch (IOException e) {
                error("serve: " + e.getMessage());
            }
        }
    }
}
