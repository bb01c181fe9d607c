package dev.reuseport.internal.serve;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.NativeFd;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * One accepted, non-blocking connection served by a loop. Reads and writes never block in native code:
 * a read that finds nothing (EAGAIN) re-arms the descriptor in its loop's epoll set (one-shot) and parks
 * the calling thread in Java until the loop reports it ready, so a virtual thread unmounts and its carrier
 * goes on. Not for concurrent readers (one reader and one writer at a time).
 */
public final class Stream {
    private final NativeFd fd;
    private final EventLoop loop;
    private final Member member;
    final long token;
    final long acceptedNanos;
    /** Set by the loop when an armed event fired; cleared by the thread that arms. */
    private volatile boolean ready;
    private volatile Thread waiter;
    /** The thread running the handler, interrupted when the engine is forced to stop. */
    volatile Thread runner;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean counted = new AtomicBoolean();

    Stream(int fd, EventLoop loop, Member member, long token) {
        this.fd = new NativeFd(fd, true);
        this.loop = loop;
        this.member = member;
        this.token = token;
        this.acceptedNanos = System.nanoTime();
    }

    /** The worker serving it. */
    public Member member() {
        return member;
    }

    /** The raw descriptor, for logs. */
    public int fd() {
        return fd.number();
    }

    /** Registers the descriptor with the loop's epoll set, one-shot for input (the first dispatch). */
    void register(EventLoop l) throws IOException {
        l.ctl(Sys.EPOLL_CTL_ADD, fd.number(),
                Sys.EPOLLIN | Sys.EPOLLRDHUP | Sys.EPOLLONESHOT, token);
    }

    /** Called by the loop: the armed event fired (or the engine is stopping). */
    void wake() {
        ready = true;
        Thread t = waiter;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    /**
     * Reads into {@code dst}, waiting (parked, not in native code) until bytes arrive.
     *
     * @return bytes read, -1 at end of stream; 0 only when {@code dst} has no room
     * @throws SocketTimeoutException when nothing arrived within {@code timeoutNanos} (0: no limit)
     */
    public int read(ByteBuffer dst, long timeoutNanos) throws IOException {
        if (!dst.hasRemaining()) {
            return 0;
        }
        long deadline = timeoutNanos > 0 ? System.nanoTime() + timeoutNanos : 0;
        for (;;) {
            int r = io(dst, true);
            if (r != 0) {
                return r;
            }
            await(Sys.EPOLLIN | Sys.EPOLLRDHUP, deadline);
        }
    }

    /** Reads what is there now: bytes read, 0 when nothing is queued, -1 at end of stream. */
    public int readNow(ByteBuffer dst) throws IOException {
        return io(dst, true);
    }

    /** Writes all of {@code src}, waiting (parked) for room in the send buffer when it is full. */
    public void write(ByteBuffer src, long timeoutNanos) throws IOException {
        long deadline = timeoutNanos > 0 ? System.nanoTime() + timeoutNanos : 0;
        while (src.hasRemaining()) {
            if (io(src, false) == 0) {
                await(Sys.EPOLLOUT, deadline);
            }
        }
    }

    private int io(ByteBuffer b, boolean read) throws IOException {
        int n = acquire();
        try {
            if (b.isDirect()) {
                return read ? Sys.read(n, b) : Sys.write(n, b);
            }
            // A heap buffer goes through one of the loop's pooled direct buffers: Sys's own fallback keeps a
            // 64 KiB direct buffer per thread, which a virtual thread per connection would allocate anew
            // every time (that allocation was two thirds of the CPU profile under wrk).
            ByteBuffer d = loop.borrowDirect();
            try {
                int len = Math.min(d.capacity(), b.remaining());
                if (read) {
                    d.limit(len);
                    int r = Sys.read(n, d);
                    if (r > 0) {
                        d.flip();
                        b.put(d);
                    }
                    return r;
                }
                ByteBuffer src = b.duplicate();
                src.limit(src.position() + len);
                d.put(src).flip();
                int r = Sys.write(n, d);
                if (r > 0) {
                    b.position(b.position() + r);
                }
                return r;
            } finally {
                loop.returnDirect(d);
            }
        } finally {
            fd.release();
        }
    }

    private int acquire() throws ClosedChannelException {
        if (closed.get()) {
            throw new ClosedChannelException();
        }
        return fd.acquire();
    }

    private void await(int events, long deadline) throws IOException {
        ready = false;
        waiter = Thread.currentThread();
        try {
            int n = acquire();
            try {
                loop.ctl(Sys.EPOLL_CTL_MOD, n, events | Sys.EPOLLONESHOT, token);
            } finally {
                fd.release();
            }
            while (!ready && !closed.get()) {
                if (deadline == 0) {
                    LockSupport.park(this);
                } else {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new SocketTimeoutException("no progress on connection fd " + fd.number()
                                + " of slot " + member.slot() + " in time");
                    }
                    LockSupport.parkNanos(this, left);
                }
                if (Thread.interrupted()) {
                    throw new InterruptedIOException("interrupted waiting on connection fd " + fd.number());
                }
            }
            if (closed.get()) {
                throw new ClosedChannelException();
            }
        } finally {
            waiter = null;
        }
    }

    /** The client's address. */
    public InetSocketAddress remoteAddress() throws IOException {
        int n = acquire();
        try {
            return Sys.peerAddress(n);
        } finally {
            fd.release();
        }
    }

    /** Half-closes the sending side. */
    public void shutdownOutput() throws IOException {
        int n = acquire();
        try {
            Sys.shutdown(n, Sys.SHUT_WR);
        } finally {
            fd.release();
        }
    }

    /** Whether {@link #close()} ran. */
    public boolean isOpen() {
        return !closed.get();
    }

    /**
     * Closes once (later calls do nothing); wakes a thread parked on it. The descriptor leaves the epoll
     * set with its last reference.
     */
    public void close() throws NativeException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        loop.forget(this);
        wake();
        fd.close();
    }

    /** Counts the stream's end once, whoever ends it. */
    boolean markCounted() {
        return counted.compareAndSet(false, true);
    }

    @Override
    public String toString() {
        return "Stream[slot " + member.slot() + ", fd " + fd.number() + (closed.get() ? ", closed" : "") + "]";
    }
}
