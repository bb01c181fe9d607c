package dev.reuseport;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.NativeFd;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;

/**
 * An accepted TCP connection: the library's own minimal blocking (or non-blocking) byte channel over the
 * accepted descriptor. {@link #fd()} exposes the raw number for adapters (Netty's epoll channels take a
 * foreign fd); an adapter that takes it over calls {@link #detach()} so that this object never closes it.
 */
public final class Connection implements ByteChannel {
    private final NativeFd fd;
    private final int slot;
    private final boolean nonBlocking;
    private volatile boolean detached;

    Connection(int fd, int slot, boolean nonBlocking) {
        this.fd = new NativeFd(fd, true);
        this.slot = slot;
        this.nonBlocking = nonBlocking;
    }

    /** The slot of the worker that accepted it. */
    public int slot() {
        return slot;
    }

    /** Whether reads and writes return 0 instead of blocking. */
    public boolean isNonBlocking() {
        return nonBlocking;
    }

    /** Reads into {@code dst}: bytes read, -1 at end of stream, 0 when non-blocking and nothing is there. */
    @Override
    public int read(ByteBuffer dst) throws IOException {
        int n = fd.acquire();
        try {
            return Sys.read(n, dst);
        } finally {
            fd.release();
        }
    }

    /** Writes from {@code src}: bytes written (0 when non-blocking and the send buffer is full). */
    @Override
    public int write(ByteBuffer src) throws IOException {
        int n = fd.acquire();
        try {
            return Sys.write(n, src);
        } finally {
            fd.release();
        }
    }

    /** Writes all of {@code src}, waiting for room when non-blocking. */
    public void writeFully(ByteBuffer src) throws IOException {
        while (src.hasRemaining()) {
            if (write(src) == 0) {
                int n = fd.acquire();
                try {
                    Sys.poll(n, Sys.POLLOUT, 1000);
                } finally {
                    fd.release();
                }
            }
        }
    }

    /** Half-closes the sending side (shutdown SHUT_WR). */
    public void shutdownOutput() throws IOException {
        int n = fd.acquire();
        try {
            Sys.shutdown(n, Sys.SHUT_WR);
        } finally {
            fd.release();
        }
    }

    /** The client's address (getpeername). */
    public InetSocketAddress remoteAddress() throws IOException {
        int n = fd.acquire();
        try {
            return Sys.peerAddress(n);
        } finally {
            fd.release();
        }
    }

    /** The local address the client reached (getsockname). */
    public InetSocketAddress localAddress() throws IOException {
        int n = fd.acquire();
        try {
            return Sys.localAddress(n);
        } finally {
            fd.release();
        }
    }

    /** The raw descriptor number; valid until {@link #close()}, or forever after {@link #detach()}. */
    public int fd() {
        return fd.number();
    }

    /**
     * Gives the descriptor to the caller: this object stops using it and {@link #close()} no longer
     * closes it. Returns the number.
     */
    public int detach() {
        detached = true;
        return fd.number();
    }

    @Override
    public boolean isOpen() {
        return !fd.isClosed() && !detached;
    }

    @Override
    public void close() throws NativeException {
        if (!detached) {
            fd.close();
        }
    }

    @Override
    public String toString() {
        return "Connection[slot " + slot + ", " + fd + "]";
    }
}
