package dev.reuseport;

import dev.reuseport.internal.serve.Member;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;

/** One datagram given to a {@link DatagramHandler}: its payload, its sender, and how to answer. */
public final class ServedDatagram {
    private final Member member;
    private final ByteBuffer payload;
    private final InetSocketAddress sender;

    ServedDatagram(Member member, ByteBuffer payload, InetSocketAddress sender) {
        this.member = member;
        this.payload = payload;
        this.sender = sender;
    }

    /**
     * The payload.
     *
     * @return a heap buffer holding the datagram from its position to its limit, the handler's to keep
     */
    public ByteBuffer payload() {
        return payload;
    }

    /**
     * Where it came from.
     *
     * @return the sender's address (where a reply goes)
     */
    public InetSocketAddress sender() {
        return sender;
    }

    /**
     * The worker that received it.
     *
     * @return that worker's slot
     */
    public int slot() {
        return member.slot();
    }

    /**
     * Sends {@code reply}'s remaining bytes as one datagram to the sender, from the worker's socket (so it
     * leaves from the group's address and port), without blocking.
     *
     * @param reply the datagram to send, from its position to its limit
     * @return true when sent, false when the send buffer was full (nothing sent)
     * @throws IOException when the worker's socket is gone, or sendto fails
     */
    public boolean reply(ByteBuffer reply) throws IOException {
        return member.send(reply, sender);
    }
}
