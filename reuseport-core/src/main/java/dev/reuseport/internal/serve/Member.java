package dev.reuseport.internal.serve;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;

/** What a loop needs of the worker whose slot it serves; the facade adapts its Worker to this. */
public interface Member {
    /** The worker's stable slot id. */
    int slot();

    /** Counts a connection the loop accepted (or adopted from a leaving socket). */
    void recordAccepted();

    /** Counts a datagram the loop received (or adopted). */
    void recordReceived();

    /** Records one request's duration, accept or receive to handler return. */
    void recordLatency(long nanos);

    /** Sends a datagram from the worker's current socket without blocking; false when the buffer was full. */
    boolean send(ByteBuffer datagram, InetSocketAddress target) throws IOException;
}
