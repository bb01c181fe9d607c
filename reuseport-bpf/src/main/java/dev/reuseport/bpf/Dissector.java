package dev.reuseport.bpf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Objects;

/**
 * What the steering program reads in a UDP datagram before the policy decides: nothing (the policy alone,
 * with the kernel's 4-tuple hash), a QUIC connection id, a worker key at a fixed payload offset, or the
 * datagram's flow. A dissector that finds a valid routing cookie steers the datagram to the cookie's slot;
 * everything else (no cookie, a cookie for a slot that is gone, a malformed datagram) is steered by the
 * policy, never dropped. TCP connections are never dissected. An immutable spec: {@link
 * SteerProgram#setDissector} puts it in force.
 */
public final class Dissector {
    /** The dissector kinds, with the numbers {@code steer.bpf.c} reads. */
    public enum Kind {
        /** No dissection: the policy with the kernel's 4-tuple hash. */
        NONE(0),
        /** QUIC: routing cookies in server-issued connection ids ({@link QuicCid}). */
        QUIC(1),
        /** A 2- or 4-byte worker key at a fixed payload offset. */
        OFFSET_COOKIE(2),
        /** A flow (4-tuple) keeps the slot that received its first datagram until it is idle. */
        FLOW(3);

        final int code;

        Kind(int code) {
            this.code = code;
        }

        /**
         * The kind's number in the program's {@code dcfg} map and the key of its counters.
         *
         * @return 0 NONE, 1 QUIC, 2 OFFSET_COOKIE, 3 FLOW
         */
        public int code() {
            return code;
        }
    }

    /** The longest payload offset an offset cookie may have. */
    public static final int MAX_OFFSET = 65535;

    private static final Dissector NONE = new Dissector(Kind.NONE, 0, 0, 0, 0, 0);

    private final Kind kind;
    private final int cidLength;
    private final int configRotation;
    private final int offset;
    private final int size;
    private final long idleNanos;

    private Dissector(Kind kind, int cidLength, int configRotation, int offset, int size, long idleNanos) {
        this.kind = kind;
        this.cidLength = cidLength;
        this.configRotation = configRotation;
        this.offset = offset;
        this.size = size;
        this.idleNanos = idleNanos;
    }

    /**
     * No dissection: every datagram is steered by the policy on the kernel's 4-tuple hash.
     *
     * @return the NONE dissector
     */
    public static Dissector none() {
        return NONE;
    }

    /**
     * QUIC with config rotation 0. See {@link #quic(int, int)}.
     *
     * @param cidLength the length of the connection ids the server issues, {@value QuicCid#MIN_LENGTH}..{@value
     *                  QuicCid#MAX_LENGTH}
     * @return the QUIC dissector
     * @throws IllegalArgumentException when the length is out of range
     */
    public static Dissector quic(int cidLength) {
        return quic(cidLength, 0);
    }

    /**
     * QUIC: the destination connection id of a long header (its own length octet, at most 20) or of a
     * short header ({@code cidLength} octets) is read; one the server issued through {@link QuicCid} with
     * this length and config rotation steers to its generation's slot. Any other one (a client's Initial,
     * a forged or foreign id) is no cookie: the policy steers by a hash of the connection id, and
     * remembers the choice, so that every packet of one handshake reaches one socket.
     *
     * @param cidLength      the length of the connection ids the server issues, {@value QuicCid#MIN_LENGTH}..{@value
     *                       QuicCid#MAX_LENGTH}
     * @param configRotation the QUIC-LB config rotation bits of those ids, 0..2 (3 is the draft's
     *                       "unroutable" code point)
     * @return the QUIC dissector
     * @throws IllegalArgumentException when a value is out of range
     */
    public static Dissector quic(int cidLength, int configRotation) {
        QuicCid.checkLength(cidLength);
        if (configRotation < 0 || configRotation > 2) {
            throw new IllegalArgumentException("config rotation " + configRotation + "; accepted: 0..2");
        }
        return new Dissector(Kind.QUIC, cidLength, configRotation, 0, 0, 0);
    }

    /**
     * A worker key at a payload offset: 4 bytes are a server id as in a QUIC cookie (generation, worker,
     * 16 check bits; see {@link QuicCid#serverId}); 2 bytes are the generation and the worker without
     * check bits. A key for a generation never set up is no cookie; a datagram too short to hold the key
     * is malformed; both are steered by the policy.
     *
     * @param offset where the key starts in the UDP payload, 0..{@value #MAX_OFFSET}
     * @param size   2 or 4
     * @return the offset-cookie dissector
     * @throws IllegalArgumentException when a value is out of range
     */
    public static Dissector offsetCookie(int offset, int size) {
        if (offset < 0 || offset > MAX_OFFSET) {
            throw new IllegalArgumentException("cookie offset " + offset + "; accepted: 0.." + MAX_OFFSET);
        }
        if (size != 2 && size != 4) {
            throw new IllegalArgumentException("cookie size " + size + "; accepted: 2 or 4");
        }
        return new Dissector(Kind.OFFSET_COOKIE, 0, 0, offset, size, 0);
    }

    /**
     * Flows: a datagram's 4-tuple is remembered with the slot and the working generation that received
     * its first datagram; later datagrams of the flow go there while that generation is live, until the
     * flow has been idle for {@code idle}. The table is an LRU hash of 65,536 flows. Keep the policy's
     * table on the working generation's slots ({@link SteerProgram#setWorkingGeneration}); when that
     * generation was never set up, flows simply keep their slot until idle or until its socket is gone.
     *
     * @param idle how long a flow may be silent and still be the same flow; 1 ms .. 1 day
     * @return the flow dissector
     * @throws IllegalArgumentException when the duration is out of range
     */
    public static Dissector flow(Duration idle) {
        Objects.requireNonNull(idle, "idle");
        if (idle.compareTo(Duration.ofMillis(1)) < 0 || idle.compareTo(Duration.ofDays(1)) > 0) {
            throw new IllegalArgumentException("flow idle time " + idle + "; accepted: PT0.001S..PT24H");
        }
        return new Dissector(Kind.FLOW, 0, 0, 0, 0, idle.toNanos());
    }

    /**
     * The kind.
     *
     * @return what the dissector reads
     */
    public Kind kind() {
        return kind;
    }

    /**
     * The server's connection id length (QUIC).
     *
     * @return the length in octets; 0 for other kinds
     */
    public int cidLength() {
        return cidLength;
    }

    /**
     * The config rotation bits of the server's connection ids (QUIC).
     *
     * @return 0..2; 0 for other kinds
     */
    public int configRotation() {
        return configRotation;
    }

    /**
     * Where the key is (offset cookie).
     *
     * @return the payload offset; 0 for other kinds
     */
    public int offset() {
        return offset;
    }

    /**
     * The key's size (offset cookie).
     *
     * @return 2 or 4; 0 for other kinds
     */
    public int size() {
        return size;
    }

    /**
     * How long a flow may be idle (flow).
     *
     * @return the idle time; zero for other kinds
     */
    public Duration idle() {
        return Duration.ofNanos(idleNanos);
    }

    /** The {@code struct dcfg} value (32 bytes, native order) with a working generation. */
    byte[] encode(int working) {
        ByteBuffer b = ByteBuffer.allocate(32).order(ByteOrder.nativeOrder());
        b.putInt(0, kind.code).putInt(4, cidLength).putInt(8, configRotation).putInt(12, offset).putInt(16, size)
                .putInt(20, working).putLong(24, idleNanos);
        return b.array();
    }

    /** The spec a {@code struct dcfg} value holds; NONE for a kind it does not know. */
    static Dissector decode(byte[] v) {
        ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.nativeOrder());
        int k = b.getInt(0);
        for (Kind kind : Kind.values()) {
            if (kind.code == k) {
                return kind == Kind.NONE ? NONE
                        : new Dissector(kind, b.getInt(4), b.getInt(8), b.getInt(12), b.getInt(16), b.getLong(24));
            }
        }
        return NONE;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Dissector d && d.kind == kind && d.cidLength == cidLength
                && d.configRotation == configRotation && d.offset == offset && d.size == size
                && d.idleNanos == idleNanos;
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, cidLength, configRotation, offset, size, idleNanos);
    }

    @Override
    public String toString() {
        switch (kind) {
            case QUIC:
                return "quic(cidLength=" + cidLength + ", configRotation=" + configRotation + ")";
            case OFFSET_COOKIE:
                return "offsetCookie(offset=" + offset + ", size=" + size + ")";
            case FLOW:
                return "flow(idle=" + idle() + ")";
            default:
                return "none";
        }
    }
}
