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

    /**
     * The worker that accepted this connection.
     *
     * @return that worker's slot, its stable id within the group
     */
    public int slot() {
        return slot;
    }

    /**
     * Whether the descriptor was accepted with O_NONBLOCK.
     *
     * @return true when reads and writes return 0 instead of blocking
     */
    public boolean isNonBlocking() {
        return nonBlocking;
    }

    /** Reads into {@code dst}: bytes read, -1 at end of stream, 0 when non-blocking and nothing is there. */
    @Override
    public int read(ByteBuffer dst) throws IOException {
        int n = acquire();
        try {
            return Sys.read(n, dst);
        } finally {
            fd.release();
        }
    }

    /** Writes from {@code src}: bytes written (0 when non-blocking and the send buffer is full). */
    @Override
    public int write(ByteBuffer src) throws IOException {
        int n = acquire();
        try {
            return Sys.write(n, src);
        } finally {
            fd.release();
        }
    }

    /**
     * Writes all of {@code src}; on a non-blocking connection waits for room in the send buffer with
     * {@code poll(POLLOUT)}, one second at a time, for as long as it takes.
     *
     * @param src the bytes to send, from its position to its limit; its position ends at its limit
     * @throws java.nio.channels.ClosedChannelException when this connection was closed
     * @throws IOException when a write fails, e.g. EPIPE or ECONNRESET once the peer is gone (the
     *                     position then says how much was sent)
     */
    public void writeFully(ByteBuffer src) throws IOException {
        while (src.hasRemaining()) {
            if (write(src) == 0) {
                int n = acquire();
                try {
                    Sys.poll(n, Sys.POLLOUT, 1000);
                } finally {
                    fd.release();
                }
            }
        }
    }

    /**
     * Half-closes the sending side ({@code shutdown(SHUT_WR)}): the peer reads end of stream once it has
     * read what was sent, and this side can still read.
     *
     * @throws java.nio.channels.ClosedChannelException when this connection was closed
     * @throws IOException when the kernel refuses, e.g. ENOTCONN once the connection is reset
     */
    public void shutdownOutput() throws IOException {
        int n = acquire();
        try {
            Sys.shutdown(n, Sys.SHUT_WR);
        } finally {
            fd.release();
        }
    }

    /**
     * The client's address ({@code getpeername}).
     *
     * @return the peer's IP address and port
     * @throws java.nio.channels.ClosedChannelException when this connection was closed
     * @throws IOException when the kernel refuses, e.g. ENOTCONN once the connection is reset
     */
    public InetSocketAddress remoteAddress() throws IOException {
        int n = acquire();
        try {
            return Sys.peerAddress(n);
        } finally {
            fd.release();
        }
    }

    /**
     * The local address the client reached ({@code getsockname}): the group's port, and the concrete
     * local IP when the group is bound to a wildcard address.
     *
     * @return the local IP address and port
     * @throws java.nio.channels.ClosedChannelException when this connection was closed
     * @throws IOException when the kernel refuses
     */
    public InetSocketAddress localAddress() throws IOException {
        int n = acquire();
        try {
            return Sys.localAddress(n);
        } finally {
            fd.release();
        }
    }

    /**
     * The raw descriptor number, for an I/O layer that takes a foreign descriptor. While this object owns
     * it, do not close it: {@link #close()} does.
     *
     * @return the number; valid until {@link #close()}, or for good after {@link #detach()}
     */
    public int fd() {
        return fd.number();
    }

    /**
     * Gives the descriptor to the caller: {@link #isOpen()} turns false, {@link #close()} no longer
     * closes it and every I/O call on this object throws {@link java.nio.channels.ClosedChannelException}
     * (it never touches the number again, which the caller may close and the kernel reuse); the caller
     * closes it when done.
     *
     * @return the descriptor number
     */
    public int detach() {
        detached = true;
        return fd.number();
    }

    /**
     * The number for one call; after {@link #detach()} none (the number is the new owner's, and may be
     * closed and reused by then), so a call on this object fails instead of touching another descriptor.
     */
    private int acquire() throws java.nio.channels.ClosedChannelException {
        if (detached) {
            throw new java.nio.channels.ClosedChannelException();
        }
        return fd.acquire();
    }

    @Override
    public boolean isOpen() {
        return !fd.isClosed() && !detached;
    }

    /**
     * Closes the connection, once however many threads call this; a no-op after {@link #detach()}. When
     * another thread is blocked in a call on it, the socket is shut down to wake that call and the
     * descriptor is closed when the call returns, so a stale call never touches a reused number.
     *
     * @throws NativeException when {@code close(2)} fails, or the shutdown that wakes a blocked call does
     */
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
