package dev.reuseport.netty;

import dev.reuseport.ReuseportGroup;
import dev.reuseport.bpf.QuicCid;
import io.netty.handler.codec.quic.QuicConnectionIdGenerator;
import java.nio.ByteBuffer;
import java.security.SecureRandom;

/**
 * Netty QUIC's connection-id generator for one worker of a group: every server connection id it issues
 * carries the routing cookie ({@link QuicCid}: QUIC-LB plaintext layout, the group's working generation,
 * the worker, 16 check bits under the generation's key, then a random nonce), so the steering program's
 * QUIC dissector sends every later packet of the connection, from whatever source address and port, to
 * this worker's socket. The generation and key are read from the group at each id
 * ({@link ReuseportGroup#cookieGeneration()}); the worker field is the worker's slot minus the generation's
 * first slot (0 for a group's first generation; a generation a {@link ReuseportGroup#takeOver take-over} set
 * up starts further on). Not idempotent (each id has a fresh nonce); thread-safe.
 */
public final class CookieConnectionIds implements QuicConnectionIdGenerator {
    private final ReuseportGroup group;
    private final int slot;
    private final int length;
    private final int configRotation;
    private final SecureRandom random = new SecureRandom();

    /**
     * A generator for the worker in {@code slot}.
     *
     * @param group          the group whose steering program reads the cookies
     * @param slot           the worker's slot, 0..255
     * @param length         the connection id length, {@value QuicCid#MIN_LENGTH}..{@value QuicCid#MAX_LENGTH}:
     *                       the QUIC dissector's {@code cidLength} and the codec's local connection id length
     * @param configRotation the dissector's config rotation, 0..2
     * @throws IllegalArgumentException when a value is out of range, naming it and what is accepted
     */
    public CookieConnectionIds(ReuseportGroup group, int slot, int length, int configRotation) {
        if (group == null) {
            throw new IllegalArgumentException("group null is not a group; accepted: an open UDP ReuseportGroup");
        }
        if (slot < 0 || slot >= ReuseportGroup.MAX_WORKERS) {
            throw new IllegalArgumentException("slot " + slot + "; accepted: 0.." + (ReuseportGroup.MAX_WORKERS - 1));
        }
        if (length < QuicCid.MIN_LENGTH || length > QuicCid.MAX_LENGTH) {
            throw new IllegalArgumentException("QUIC connection id length " + length + "; accepted: "
                    + QuicCid.MIN_LENGTH + ".." + QuicCid.MAX_LENGTH);
        }
        if (configRotation < 0 || configRotation > 2) {
            throw new IllegalArgumentException("config rotation " + configRotation + "; accepted: 0..2");
        }
        this.group = group;
        this.slot = slot;
        this.length = length;
        this.configRotation = configRotation;
    }

    /**
     * The worker's slot: the cookie's worker field.
     *
     * @return 0..255
     */
    public int slot() {
        return slot;
    }

    /**
     * A new cookie-bearing connection id.
     *
     * @param length the length Netty asks for; must be this generator's length
     * @return a read-only buffer holding the id
     * @throws IllegalArgumentException when {@code length} is not this generator's length
     */
    @Override
    public ByteBuffer newId(int length) {
        if (length != this.length) {
            throw new IllegalArgumentException("connection id length " + length + "; accepted: " + this.length
                    + " (set the codec's localConnectionIdLength to the QUIC dissector's cidLength)");
        }
        int[] gk = group.cookieGeneration();
        int worker = slot - gk[2];
        if (worker < 0 || worker > 255) {
            throw new IllegalStateException("slot " + slot + " is outside the working generation " + gk[0]
                    + " (slots from " + gk[2] + "); accepted: a worker of the group's working generation");
        }
        byte[] cid = QuicCid.encode(length, configRotation, gk[0], worker, gk[1], random);
        return ByteBuffer.wrap(cid).asReadOnlyBuffer();
    }

    /**
     * A new cookie-bearing connection id; {@code input} is not used (ids are not derived from it).
     *
     * @param input  ignored
     * @param length as {@link #newId(int)}
     * @return as {@link #newId(int)}
     */
    @Override
    public ByteBuffer newId(ByteBuffer input, int length) {
        return newId(length);
    }

    /**
     * A new cookie-bearing connection id for a connection's first server id; the client's ids are not used.
     *
     * @param scid   ignored
     * @param dcid   ignored
     * @param length as {@link #newId(int)}
     * @return as {@link #newId(int)}
     */
    @Override
    public ByteBuffer newId(ByteBuffer scid, ByteBuffer dcid, int length) {
        return newId(length);
    }

    /**
     * The only length issued.
     *
     * @return the connection id length
     */
    @Override
    public int maxConnectionIdLength() {
        return length;
    }

    /**
     * Ids carry a random nonce.
     *
     * @return false
     */
    @Override
    public boolean isIdempotent() {
        return false;
    }
}
