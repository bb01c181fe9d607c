package dev.reuseport;

import dev.reuseport.sys.internal.MsgVec;
import dev.reuseport.sys.internal.SockAddr;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/**
 * A reusable holder for a datagram's source address, filled without allocating by
 * {@link Worker#receive(java.nio.ByteBuffer, DatagramSource, java.time.Duration)} and
 * {@link DatagramBatch#source(int, DatagramSource)}. It keeps the kernel's {@code sockaddr} bytes; the
 * accessors decode them on demand ({@link #port()}, {@link #ipv4()}, {@link #copyAddress(byte[])}), and
 * only {@link #toSocketAddress()} makes objects. Not thread-safe: one holder per receiving thread.
 */
public final class DatagramSource {
    private final byte[] sockaddr = new byte[32];
    private int length;
    /** The one-message vector a single receive runs through; made on first use and kept. */
    private MsgVec vec;

    /** An empty holder ({@link #isEmpty()} until a receive fills it). */
    public DatagramSource() {
    }

    MsgVec vec() {
        if (vec == null) {
            vec = new MsgVec(1, 0);
        }
        return vec;
    }

    /** Fills this holder from slot {@code i} of {@code v} (the kernel's sockaddr). */
    void fillFrom(MsgVec v, int i) {
        length = v.copyNameOut(i, sockaddr);
        truncated = (v.flags(i) & MsgVec.MSG_TRUNC) != 0;
    }

    private boolean truncated;

    void truncated(boolean t) {
        truncated = t;
    }

    /**
     * Whether the datagram whose source this holds was longer than the room the receive had (MSG_TRUNC):
     * its tail was discarded. Set by {@link Worker#receive(java.nio.ByteBuffer, DatagramSource,
     * java.time.Duration)}; false after {@link DatagramBatch#source(int, DatagramSource)} unless that
     * slot was truncated.
     *
     * @return true when truncated
     */
    public boolean truncated() {
        return truncated;
    }

    /** Fills this holder from a Java address (a hand-over datagram, or a target a caller chose). */
    void fillFrom(InetSocketAddress a, int family) {
        byte[] tmp = new byte[SockAddr.MAX_LEN];
        int len = SockAddr.encode(a, family, tmp);
        System.arraycopy(tmp, 0, sockaddr, 0, Math.min(len, sockaddr.length));
        length = Math.min(len, sockaddr.length);
    }

    byte[] raw() {
        return sockaddr;
    }

    int rawLength() {
        return length;
    }

    /**
     * Whether no receive has filled this holder yet.
     *
     * @return true when empty
     */
    public boolean isEmpty() {
        return length < 2;
    }

    /**
     * Whether the source is an IPv4 address (an AF_INET socket's peer).
     *
     * @return true for AF_INET
     */
    public boolean isIpv4() {
        return family() == SockAddr.AF_INET;
    }

    private int family() {
        return length < 2 ? 0 : (sockaddr[0] & 0xff) | ((sockaddr[1] & 0xff) << 8);
    }

    /**
     * The source port.
     *
     * @return 0..65535; 0 when empty
     */
    public int port() {
        return length < 4 ? 0 : ((sockaddr[2] & 0xff) << 8) | (sockaddr[3] & 0xff);
    }

    /**
     * The IPv4 source address as an int, most significant byte first ({@code a.b.c.d} is
     * {@code a << 24 | b << 16 | c << 8 | d}).
     *
     * @return the address
     * @throws IllegalStateException when the source is not IPv4
     */
    public int ipv4() {
        if (!isIpv4()) {
            throw new IllegalStateException("source is not IPv4: " + this);
        }
        return ((sockaddr[4] & 0xff) << 24) | ((sockaddr[5] & 0xff) << 16) | ((sockaddr[6] & 0xff) << 8)
                | (sockaddr[7] & 0xff);
    }

    /**
     * Copies the address bytes (4 for IPv4, 16 for IPv6) into {@code out}.
     *
     * @param out at least 16 bytes
     * @return how many bytes were written: 4, 16, or 0 when empty
     */
    public int copyAddress(byte[] out) {
        int f = family();
        if (f == SockAddr.AF_INET) {
            System.arraycopy(sockaddr, 4, out, 0, 4);
            return 4;
        }
        if (f == SockAddr.AF_INET6) {
            System.arraycopy(sockaddr, 8, out, 0, 16);
            return 16;
        }
        return 0;
    }

    /**
     * The source as a new {@link InetSocketAddress} (this allocates; the receive itself did not).
     *
     * @return the address, or null when empty
     */
    public InetSocketAddress toSocketAddress() {
        int f = family();
        byte[] a;
        if (f == SockAddr.AF_INET) {
            a = Arrays.copyOfRange(sockaddr, 4, 8);
        } else if (f == SockAddr.AF_INET6) {
            a = Arrays.copyOfRange(sockaddr, 8, 24);
        } else {
            return null;
        }
        try {
            return new InetSocketAddress(InetAddress.getByAddress(a), port());
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Whether this holder and {@code other} hold the same address and port.
     *
     * @param other another holder
     * @return true when both sockaddrs are byte-equal
     */
    public boolean sameAs(DatagramSource other) {
        return length == other.length && Arrays.equals(sockaddr, 0, length, other.sockaddr, 0, length);
    }

    @Override
    public String toString() {
        InetSocketAddress a = toSocketAddress();
        return a == null ? "DatagramSource[empty]" : "DatagramSource[" + a + "]";
    }
}
