package dev.reuseport.bpf;

import java.util.Objects;
import java.util.Optional;
import java.util.Random;

/**
 * Routing cookies in QUIC connection ids, in the plaintext layout of the IETF QUIC-LB draft
 * (draft-ietf-quic-load-balancers), so that the steering program (and an L4 load balancer configured with
 * the same server ids) can route a connection's packets to the socket that owns it:
 *
 * <pre>
 * octet 0      config rotation (2 bits) | connection id length - 1 (6 bits)
 * octet 1      socket generation (0..255)         \
 * octet 2      worker: slot - generation base      |  server id, 4 octets
 * octets 3-4   check bits, big-endian 16 bits     /
 * octets 5..   nonce (at least 4 octets, so the id is 9..20 octets long)
 * </pre>
 *
 * The check bits are {@link #check(int, int, int)} of the generation's key (set with
 * {@link SteerProgram#setGeneration}): a random or forged connection id matches them with probability
 * 2<sup>-16</sup> (times the chance that its first octet matches), so it is taken for "no cookie" and
 * steered by the policy rather than misrouted; a new key for a reused generation number invalidates the
 * ids of the generation that had it before. With a 20-octet or shorter id the length-1 field fits 5 bits,
 * so the same first octet also reads as the later drafts' 3-bit config id ({@code 2 * rotation}) and 5-bit
 * length. Stateless; every method is thread-safe.
 */
public final class QuicCid {
    /** Octets of the server id: generation, worker, two check octets. */
    public static final int SERVER_ID_LENGTH = 4;
    /** The shortest connection id: first octet, server id and a 4-octet nonce. */
    public static final int MIN_LENGTH = 9;
    /** The longest connection id QUIC version 1 allows. */
    public static final int MAX_LENGTH = 20;

    /**
     * What a connection id's cookie says, before the check bits are verified against a key.
     *
     * @param generation the socket generation, 0..255
     * @param worker     the worker, 0..255: its slot is the generation's base plus this
     * @param check      the 16 check bits as carried
     */
    public record Cookie(int generation, int worker, int check) {
        /**
         * Whether the check bits are those of this generation and worker under {@code key}.
         *
         * @param key the generation's key
         * @return true when the cookie is genuine for that key
         */
        public boolean matches(int key) {
            return check == QuicCid.check(key, generation, worker);
        }
    }

    private QuicCid() {
    }

    static void checkLength(int length) {
        if (length < MIN_LENGTH || length > MAX_LENGTH) {
            throw new IllegalArgumentException("QUIC connection id length " + length + "; accepted: " + MIN_LENGTH
                    + ".." + MAX_LENGTH);
        }
    }

    private static void checkIds(int generation, int worker) {
        if (generation < 0 || generation > 255) {
            throw new IllegalArgumentException("generation " + generation + "; accepted: 0..255");
        }
        if (worker < 0 || worker > 255) {
            throw new IllegalArgumentException("worker " + worker + "; accepted: 0..255");
        }
    }

    /**
     * The 16 check bits of a cookie, exactly as {@code steer.bpf.c}'s {@code cookie_check} computes them (a
     * 32-bit integer mix of the key, the generation and the worker).
     *
     * @param key        the generation's key
     * @param generation the generation, 0..255
     * @param worker     the worker, 0..255
     * @return 0..65535
     */
    public static int check(int key, int generation, int worker) {
        int x = key ^ (((generation & 0xff) << 8 | (worker & 0xff)) * 0x9E3779B1);
        x ^= x >>> 16;
        x *= 0x85EBCA6B;
        x ^= x >>> 13;
        x *= 0xC2B2AE35;
        x ^= x >>> 16;
        return x & 0xffff;
    }

    /**
     * The server id of a worker of a generation: what follows the first octet of its connection ids, and
     * what a QUIC-LB load balancer (plaintext, server id length 4) is configured with, or what a client of
     * the {@link Dissector#offsetCookie offset-cookie} dissector carries as a 4-byte key.
     *
     * @param generation the generation, 0..255
     * @param worker     the worker within it, 0..255
     * @param key        the generation's key
     * @return 4 octets: generation, worker, check (big-endian)
     * @throws IllegalArgumentException when an id is out of range
     */
    public static byte[] serverId(int generation, int worker, int key) {
        checkIds(generation, worker);
        int c = check(key, generation, worker);
        return new byte[] {(byte) generation, (byte) worker, (byte) (c >>> 8), (byte) c};
    }

    /**
     * A connection id for a worker of a generation with the given nonce.
     *
     * @param length         the id's length, {@value #MIN_LENGTH}..{@value #MAX_LENGTH}
     * @param configRotation 0..2
     * @param generation     0..255
     * @param worker         0..255
     * @param key            the generation's key
     * @param nonce          at least {@code length - 5} octets; the first {@code length - 5} are used
     * @return the connection id
     * @throws IllegalArgumentException when a value is out of range or the nonce is too short
     */
    public static byte[] encode(int length, int configRotation, int generation, int worker, int key, byte[] nonce) {
        checkLength(length);
        if (configRotation < 0 || configRotation > 2) {
            throw new IllegalArgumentException("config rotation " + configRotation + "; accepted: 0..2");
        }
        Objects.requireNonNull(nonce, "nonce");
        int n = length - 1 - SERVER_ID_LENGTH;
        if (nonce.length < n) {
            throw new IllegalArgumentException("nonce of " + nonce.length + " octets; accepted: at least " + n
                    + " for a " + length + "-octet id");
        }
        byte[] cid = new byte[length];
        cid[0] = (byte) (configRotation << 6 | (length - 1));
        System.arraycopy(serverId(generation, worker, key), 0, cid, 1, SERVER_ID_LENGTH);
        System.arraycopy(nonce, 0, cid, 1 + SERVER_ID_LENGTH, n);
        return cid;
    }

    /**
     * A connection id for a worker of a generation with a nonce from {@code random} (use a
     * {@link java.security.SecureRandom} for ids given to peers).
     *
     * @param length         the id's length, {@value #MIN_LENGTH}..{@value #MAX_LENGTH}
     * @param configRotation 0..2
     * @param generation     0..255
     * @param worker         0..255
     * @param key            the generation's key
     * @param random         where the nonce comes from
     * @return the connection id
     * @throws IllegalArgumentException when a value is out of range
     */
    public static byte[] encode(int length, int configRotation, int generation, int worker, int key, Random random) {
        checkLength(length);
        byte[] nonce = new byte[length - 1 - SERVER_ID_LENGTH];
        random.nextBytes(nonce);
        return encode(length, configRotation, generation, worker, key, nonce);
    }

    /**
     * Reads the cookie of a connection id when its layout fits: the expected length, the first octet's
     * config rotation and length self-encoding. The check bits are not verified here (that needs the
     * generation's key: {@link Cookie#matches}).
     *
     * @param cid            the connection id
     * @param length         the server's id length
     * @param configRotation the server's config rotation
     * @return the cookie, or empty when the id does not have the layout
     */
    public static Optional<Cookie> decode(byte[] cid, int length, int configRotation) {
        Objects.requireNonNull(cid, "cid");
        if (cid.length != length || length < MIN_LENGTH || length > MAX_LENGTH) {
            return Optional.empty();
        }
        int first = cid[0] & 0xff;
        if (first >>> 6 != configRotation || (first & 0x3f) != length - 1) {
            return Optional.empty();
        }
        return Optional.of(new Cookie(cid[1] & 0xff, cid[2] & 0xff, (cid[3] & 0xff) << 8 | (cid[4] & 0xff)));
    }
}
