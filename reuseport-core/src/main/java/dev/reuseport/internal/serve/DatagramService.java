package dev.reuseport.internal.serve;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;

/** Answers one datagram. */
@FunctionalInterface
public interface DatagramService {
    /** Handles {@code payload} (a heap buffer the callee keeps) from {@code sender}, received by {@code member}. */
    void serve(Member member, ByteBuffer payload, InetSocketAddress sender) throws Exception;
}
