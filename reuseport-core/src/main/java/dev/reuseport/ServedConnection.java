package dev.reuseport;

import dev.reuseport.internal.serve.Stream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.time.Duration;

/**
 * A connection given to a {@link ConnectionHandler}. Reads and writes wait when the socket is not ready,
 * but never in native code: the descriptor is non-blocking, and the calling thread parks in Java until
 * the worker's event loop reports it ready, so a virtual thread unmounts. One reading thread and one
 * writing thread at a time. {@link #close()} may be called any number of times.
 */
public final class ServedConnection implements ByteChannel {
    private final Stream stream;

    ServedConnection(Stream stream) {
        this.stream = stream;
    }

    /**
     * The worker whose socket accepted it (or inherited it from a leaving socket).
     *
     * @return that worker's slot
     */
    public int slot() {
        return stream.member().slot();
    }

    /**
     * Reads into {@code dst}, waiting until at least one byte arrives.
     *
     * @param dst where the bytes go, from its position
     * @return bytes read, -1 at end of stream, 0 only when {@code dst} has no room
     * @throws java.nio.channels.ClosedChannelException when the connection was closed (by the handler, or
     *                                                  because serving stopped)
     * @throws IOException when read(2) fails, e.g. ECONNRESET
     */
    @Override
    public int read(ByteBuffer dst) throws IOException {
        return stream.read(dst, 0);
    }

    /**
     * As {@link #read(ByteBuffer)}, waiting at most {@code timeout}.
     *
     * @param dst     where the bytes go
     * @param timeout how long to wait for the first byte; zero: no limit
     * @return bytes read, -1 at end of stream
     * @throws java.net.SocketTimeoutException when nothing arrived in time
     * @throws IOException as {@link #read(ByteBuffer)}
     */
    public int read(ByteBuffer dst, Duration timeout) throws IOException {
        return stream.read(dst, timeout.toNanos());
    }

    /**
     * Reads what is queued now, without waiting.
     *
     * @param dst where the bytes go
     * @return bytes read, 0 when nothing is queued, -1 at end of stream
     * @throws IOException as {@link #read(ByteBuffer)}
     */
    public int readNow(ByteBuffer dst) throws IOException {
        return stream.readNow(dst);
    }

    /**
     * Writes all of {@code src}, waiting for room in the send buffer when it is full.
     *
     * @param src the bytes, from its position to its limit; its position ends at its limit
     * @return the number of bytes written (all that remained)
     * @throws IOException when write(2) fails, e.g. EPIPE once the peer is gone
     */
    @Override
    public int write(ByteBuffer src) throws IOException {
        int n = src.remaining();
        stream.write(src, 0);
        return n;
    }

    /**
     * As {@link #write(ByteBuffer)}, waiting at most {@code timeout} for room each time the buffer is full.
     *
     * @param src     the bytes
     * @param timeout how long to wait for room at most; zero: no limit
     * @throws java.net.SocketTimeoutException when no room came in time
     * @throws IOException as {@link #write(ByteBuffer)}
     */
    public void write(ByteBuffer src, Duration timeout) throws IOException {
        stream.write(src, timeout.toNanos());
    }

    /**
     * Half-closes the sending side: the peer reads end of stream once it read what was sent.
     *
     * @throws IOException when the kernel refuses
     */
    public void shutdownOutput() throws IOException {
        stream.shutdownOutput();
    }

    /**
     * The client's address.
     *
     * @return the peer's IP address and port
     * @throws IOException when the connection is closed or reset
     */
    public InetSocketAddress remoteAddress() throws IOException {
        return stream.remoteAddress();
    }

    @Override
    public boolean isOpen() {
        return stream.isOpen();
    }

    /** Closes the connection; later calls do nothing. A thread waiting on it gets ClosedChannelException. */
    @Override
    public void close() throws IOException {
        stream.close();
    }

    @Override
    public String toString() {
        return "ServedConnection[" + stream + "]";
    }
}
