package dev.reuseport.examples.bench.harness;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The baseline: 8 raw SO_REUSEPORT listeners, no BPF program, a thread per slot accepting from the
 * slot's current descriptor. A restart opens 8 new listeners, swaps them into the slots and closes
 * the old 8 as soon as no worker thread is inside a call on them (so a number is never closed under
 * a call), without draining their queues.
 */
public final class NaiveServer implements AutoCloseable {
    /** Listeners (worker slots). */
    public static final int WORKERS = 8;
    /** The listen backlog of each. */
    public static final int BACKLOG = 1024;
    private final InetAddress address;
    private final int family;
    private final int port;
    private final AtomicIntegerArray slots = new AtomicIntegerArray(WORKERS);
    private final AtomicIntegerArray inUse = new AtomicIntegerArray(WORKERS);
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean stopping;
    public final ServerErrors errors = new ServerErrors();

    public NaiveServer(InetAddress address) throws IOException {
        this.address = address;
        this.family = SockAddr.family(address);
        int first = listener(0);
        this.port = Sys.localAddress(first).getPort();
        slots.set(0, first);
        for (int i = 1; i < WORKERS; i++) {
            slots.set(i, listener(port));
        }
        for (int i = 0; i < WORKERS; i++) {
            inUse.set(i, -1);
            int slot = i;
            Thread t = new Thread(() -> run(slot), "naive-worker-" + i);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(address, port);
    }

    private int listener(int p) throws NativeException {
        int fd = Sys.socket(family, Sys.SOCK_STREAM | Sys.SOCK_NONBLOCK, 0);
        try {
            Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
            Sys.bind(fd, new InetSocketAddress(address, p), family);
            Sys.listen(fd, BACKLOG);
            return fd;
        } catch (NativeException e) {
            Sys.close(fd);
            throw e;
        }
    }

    /** Opens 8 new listeners, swaps them in, closes the old 8. */
    public void restart() throws IOException, InterruptedException {
        int[] fresh = new int[WORKERS];
        for (int i = 0; i < WORKERS; i++) {
            fresh[i] = listener(port);
        }
        int[] old = new int[WORKERS];
        for (int i = 0; i < WORKERS; i++) {
            old[i] = slots.getAndSet(i, fresh[i]);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        for (int i = 0; i < WORKERS; i++) {
            while (inUse.get(i) == old[i] && System.nanoTime() < deadline) {
                Thread.sleep(0, 200_000);
            }
        }
        for (int fd : old) {
            Sys.close(fd);
        }
    }

    private void run(int slot) {
        ByteBuffer buf = ByteBuffer.allocateDirect(16);
        while (!stopping) {
            int f = slots.get(slot);
            inUse.set(slot, f);
            if (slots.get(slot) != f) {
                inUse.set(slot, -1);
                continue;
            }
            int c;
            try {
                c = Sys.accept(f, false);
                if (c < 0) {
                    Sys.poll(f, Sys.POLLIN, 10);
                    continue;
                }
            } catch (NativeException e) {
                errors.add("accept: " + e.getMessage());
                continue;
            } finally {
                inUse.set(slot, -1);
            }
            echoOne(c, buf, errors);
        }
    }

    @Override
    public void close() throws Exception {
        stopping = true;
        for (Thread t : threads) {
            t.join(2000);
        }
        for (int i = 0; i < WORKERS; i++) {
            Sys.close(slots.get(i));
        }
    }

    /** Reads one byte from an accepted descriptor, writes it back, closes. */
    static void echoOne(int c, ByteBuffer buf, ServerErrors errors) {
        try {
            Sys.setTimeouts(c, ConnLoad.TIMEOUT_MILLIS);
            buf.clear().limit(1);
            int n = Sys.read(c, buf);
            if (n != 1) {
                errors.add("read: " + (n < 0 ? "end of stream" : "timed out"));
                return;
            }
            buf.flip();
            while (buf.hasRemaining()) {
                if (Sys.write(c, buf) == 0) {
                    errors.add("write: timed out");
                    return;
                }
            }
        } catch (NativeException e) {
            errors.add(e.getMessage());
        } finally {
            try {
                Sys.close(c);
            } catch (NativeException e) {
                errors.add(e.getMessage());
            }
        }
    }
}
