package dev.reuseport;

import dev.reuseport.sys.internal.MsgVec;
import dev.reuseport.sys.internal.SockAddr;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;

/**
 * Caller-owned, reusable buffers for batched datagram receive and send
 * ({@link Worker#receive(DatagramBatch, java.time.Duration)} over recvmmsg(2),
 * {@link Worker#send(DatagramBatch)} over sendmmsg(2)). A batch has {@link #capacity()} slots; each
 * slot holds one datagram's payload (in a slab of native memory the kernel writes into directly), its
 * length, its source or target address, a truncation flag and, with UDP GRO, the segment size of a
 * coalesced buffer. Nothing is allocated per call or per datagram: the payload views and the address
 * storage are made once, here.
 *
 * <p>Receive: after {@code n = worker.receive(batch, timeout)}, slots {@code 0..n-1} hold datagrams in
 * the order the socket queued them; {@link #payload(int)} is the slot's view (position 0, limit the
 * length), {@link #truncated(int)} says whether the datagram was longer than {@link #slotBytes()} (the
 * rest is lost, as with any UDP receive), {@link #source(int, DatagramSource)} copies its sender into a
 * holder. With UDP GRO on ({@link IngestOptions#udpGro(boolean)}) a slot may hold several
 * datagrams of one flow that the kernel coalesced: {@link #segmentSize(int)} is their size (the last may
 * be shorter) and {@link #segmentCount(int)}, {@link #segmentOffset(int, int)} and
 * {@link #segmentLength(int, int)} walk them in place. Give GRO batches slots of 65,535 bytes: a
 * coalesced buffer larger than the slot is truncated.
 *
 * <p>Send: write a payload into {@link #payload(int)}, then {@link #setLength(int, int)}, a target
 * ({@link #setTarget(int, InetSocketAddress)}, or {@link #replyToSource(int)} to answer the datagram
 * received in that slot) and optionally {@link #setSegmentSize(int, int)} for a UDP_SEGMENT (GSO) send:
 * the kernel cuts the slot into datagrams of that size. {@link #setCount(int)} says how many slots a
 * send takes. Not thread-safe: one thread uses a batch at a time.
 */
public final class DatagramBatch {
    /** The most slots a batch may have: the kernel's UIO_MAXIOV (1,024), which recvmmsg and sendmmsg cap to. */
    public static final int MAX_SLOTS = MsgVec.MAX_SLOTS;
    /** The largest UDP payload over IPv4 (65,507 bytes): the most one datagram or one GSO send can hold. */
    public static final int MAX_PAYLOAD = MsgVec.MAX_UDP_PAYLOAD;

    private final MsgVec vec;
    private final int slotBytes;
    private final ByteBuffer[] views;
    private final int[] segment;
    private final int[] groSize;
    private final boolean[] truncatedHanded;
    private int count;

    private DatagramBatch(int slots, int slotBytes) {
        this.vec = new MsgVec(slots, slotBytes);
        this.slotBytes = slotBytes;
        this.views = new ByteBuffer[slots];
        ByteBuffer data = vec.data();
        for (int i = 0; i < slots; i++) {
            ByteBuffer d = data.duplicate();
            d.limit((i + 1) * slotBytes).position(i * slotBytes);
            views[i] = d.slice();
        }
        this.segment = new int[slots];
        this.groSize = new int[slots];
        this.truncatedHanded = new boolean[slots];
    }

    /**
     * A batch of {@code slots} slots of {@code slotBytes} each; the payload slab is
     * {@code slots * slotBytes} bytes of native memory, freed with the batch by the garbage collector.
     *
     * @param slots     1..{@link #MAX_SLOTS}
     * @param slotBytes 1..65,535 (a datagram longer than this is truncated on receive)
     * @return the batch
     * @throws IllegalArgumentException naming the value out of range
     */
    public static DatagramBatch allocate(int slots, int slotBytes) {
        if (slots < 1 || slots > MAX_SLOTS) {
            throw new IllegalArgumentException("batch of " + slots + " datagrams; accepted: 1.." + MAX_SLOTS
                    + " (UIO_MAXIOV)");
        }
        if (slotBytes < 1 || slotBytes > 65_535) {
            throw new IllegalArgumentException("slot of " + slotBytes + " bytes; accepted: 1..65535");
        }
        return new DatagramBatch(slots, slotBytes);
    }

    MsgVec vec() {
        return vec;
    }

    /**
     * The number of slots.
     *
     * @return 1..{@link #MAX_SLOTS}
     */
    public int capacity() {
        return views.length;
    }

    /**
     * The payload bytes each slot holds.
     *
     * @return 1..65,535
     */
    public int slotBytes() {
        return slotBytes;
    }

    /**
     * The number of slots the last receive filled, or that the next send takes.
     *
     * @return 0..{@link #capacity()}
     */
    public int count() {
        return count;
    }

    /**
     * Sets how many slots (from 0) the next {@link Worker#send(DatagramBatch)} takes.
     *
     * @param count 1..{@link #capacity()}
     * @throws IllegalArgumentException naming the value out of range
     */
    public void setCount(int count) {
        if (count < 1 || count > views.length) {
            throw new IllegalArgumentException("count " + count + "; accepted: 1.." + views.length);
        }
        this.count = count;
    }

    /** Records the outcome of a receive of {@code n} datagrams. */
    void received(int n, boolean gro) {
        count = n;
        for (int i = 0; i < n; i++) {
            int len = vec.length(i);
            ByteBuffer v = views[i];
            v.limit(Math.min(len, slotBytes)).position(0);
            groSize[i] = gro ? vec.groSegmentSize(i) : 0;
            segment[i] = 0;
            truncatedHanded[i] = false;
        }
    }

    /** Records {@code n} datagrams handed over into slots {@code 0..n-1} (after {@link #handed}). */
    void handedCount(int n) {
        vec.clearControl(n);
        count = n;
    }

    /** Records a datagram handed over from a previous socket into slot {@code i}. */
    void handed(int i, byte[] data, InetSocketAddress from, int family) {
        ByteBuffer v = views[i];
        v.clear();
        int len = Math.min(data.length, slotBytes);
        v.put(data, 0, len).flip();
        byte[] tmp = new byte[SockAddr.MAX_LEN];
        int alen = SockAddr.encode(from, family, tmp);
        vec.setName(i, tmp, Math.min(alen, 28));
        vec.setLength(i, len);
        groSize[i] = 0;
        segment[i] = 0;
        truncatedHanded[i] = data.length > slotBytes;
    }

    private void check(int i) {
        if (i < 0 || i >= views.length) {
            throw new IndexOutOfBoundsException("slot " + i + "; accepted: 0.." + (views.length - 1));
        }
    }

    /**
     * Slot {@code i}'s payload view: after a receive, position 0 and limit the bytes received. The same
     * buffer object every time (no allocation); reading it does not change the batch. To fill it for a
     * send, {@code clear()} it (its capacity is {@link #slotBytes()}), write, then
     * {@link #setLength(int, int)}.
     *
     * @param i the slot
     * @return the view over the slot's part of the slab
     */
    public ByteBuffer payload(int i) {
        check(i);
        return views[i];
    }

    /**
     * The bytes the last receive placed in slot {@code i} (at most {@link #slotBytes()}).
     *
     * @param i the slot, below {@link #count()}
     * @return the length
     */
    public int length(int i) {
        check(i);
        return views[i].limit();
    }

    /**
     * Whether the datagram received in slot {@code i} was longer than the slot (MSG_TRUNC): its tail
     * was discarded by the kernel.
     *
     * @param i the slot, below {@link #count()}
     * @return true when truncated
     */
    public boolean truncated(int i) {
        check(i);
        if (truncatedHanded[i]) {
            return true;
        }
        return (vec.flags(i) & MsgVec.MSG_TRUNC) != 0;
    }

    /**
     * The segment size of slot {@code i}: with UDP GRO, the size of each coalesced datagram (the last
     * may be shorter), from the kernel's UDP_GRO control message; otherwise the whole length (one
     * datagram).
     *
     * @param i the slot, below {@link #count()}
     * @return the segment size, at least 1 for a non-empty slot
     */
    public int segmentSize(int i) {
        check(i);
        int g = groSize[i];
        int len = views[i].limit();
        return g > 0 && g < len ? g : len;
    }

    /**
     * How many datagrams slot {@code i} holds: 1 unless the kernel coalesced several (UDP GRO).
     *
     * @param i the slot, below {@link #count()}
     * @return the number of segments (1 for an empty datagram)
     */
    public int segmentCount(int i) {
        int s = segmentSize(i);
        int len = views[i].limit();
        return s == 0 ? 1 : (len + s - 1) / s;
    }

    /**
     * Where segment {@code k} of slot {@code i} starts in {@link #payload(int)}.
     *
     * @param i the slot
     * @param k the segment, below {@link #segmentCount(int)}
     * @return the offset
     */
    public int segmentOffset(int i, int k) {
        return k * segmentSize(i);
    }

    /**
     * The length of segment {@code k} of slot {@code i} (the segment size, or less for the last).
     *
     * @param i the slot
     * @param k the segment, below {@link #segmentCount(int)}
     * @return the length
     */
    public int segmentLength(int i, int k) {
        int s = segmentSize(i);
        return Math.min(s, views[i].limit() - k * s);
    }

    /**
     * Copies slot {@code i}'s source address into {@code into}, without allocating.
     *
     * @param i    the slot, below {@link #count()}
     * @param into the holder to fill
     * @return {@code into}
     */
    public DatagramSource source(int i, DatagramSource into) {
        check(i);
        into.fillFrom(vec, i);
        return into;
    }

    /**
     * Slot {@code i}'s source port, without allocating.
     *
     * @param i the slot, below {@link #count()}
     * @return the port
     */
    public int sourcePort(int i) {
        check(i);
        return vec.port(i);
    }

    /**
     * Slot {@code i}'s IPv4 source address as an int (most significant byte first), without allocating.
     *
     * @param i the slot, below {@link #count()}
     * @return the address
     * @throws IllegalStateException when the source is not IPv4
     */
    public int sourceIpv4(int i) {
        check(i);
        if (vec.family(i) != SockAddr.AF_INET) {
            throw new IllegalStateException("slot " + i + "'s source is not IPv4");
        }
        return vec.ipv4(i);
    }

    /**
     * Slot {@code i}'s source as a new {@link InetSocketAddress} (this allocates).
     *
     * @param i the slot, below {@link #count()}
     * @return the address
     */
    public InetSocketAddress sourceAddress(int i) {
        return source(i, new DatagramSource()).toSocketAddress();
    }

    /**
     * Sets the bytes a send takes from slot {@code i}'s payload (from offset 0).
     *
     * @param i      the slot
     * @param length 0..{@link #slotBytes()}, and at most {@link #MAX_PAYLOAD}
     * @throws IllegalArgumentException naming the value out of range
     */
    public void setLength(int i, int length) {
        check(i);
        if (length < 0 || length > slotBytes || length > MAX_PAYLOAD) {
            throw new IllegalArgumentException("length " + length + " for slot " + i + "; accepted: 0.."
                    + Math.min(slotBytes, MAX_PAYLOAD));
        }
        views[i].limit(length).position(0);
    }

    /**
     * Sets slot {@code i}'s target address for a send (encodes it once; no allocation after that).
     *
     * @param i      the slot
     * @param target where the datagram goes
     */
    public void setTarget(int i, InetSocketAddress target) {
        check(i);
        byte[] tmp = new byte[SockAddr.MAX_LEN];
        int len = SockAddr.encode(target, SockAddr.family(target.getAddress()), tmp);
        vec.setName(i, tmp, len);
    }

    /**
     * Sets slot {@code i}'s target to the address held by {@code target}.
     *
     * @param i      the slot
     * @param target a filled holder
     */
    public void setTarget(int i, DatagramSource target) {
        check(i);
        vec.setName(i, target.raw(), target.rawLength());
    }

    /**
     * Keeps slot {@code i}'s target as the source its last receive stored: a send answers that sender
     * (nothing is copied; the address is already in place).
     *
     * @param i the slot
     */
    public void replyToSource(int i) {
        check(i);
    }

    /**
     * Makes slot {@code i}'s send a UDP GSO send (UDP_SEGMENT, Linux 4.18): the kernel cuts its payload
     * into datagrams of {@code segmentSize} bytes, the last one shorter when the length is not a
     * multiple. 0 sends the slot as one datagram. The kernel takes at most 64 segments per send (UDP_MAX_SEGMENTS; newer kernels 128);
     * it refuses more with EINVAL).
     *
     * @param i           the slot
     * @param segmentSize 0, or 1..65,507 and at most {@link #slotBytes()}
     * @throws IllegalArgumentException naming the value out of range
     */
    public void setSegmentSize(int i, int segmentSize) {
        check(i);
        if (segmentSize != 0) {
            checkSegmentSize(segmentSize);
            if (segmentSize > slotBytes) {
                throw new IllegalArgumentException("segment size " + segmentSize + " does not fit a slot of "
                        + slotBytes + " bytes; accepted: 1.." + slotBytes);
            }
        }
        segment[i] = segmentSize;
    }

    static void checkSegmentSize(int segmentSize) {
        if (segmentSize < 1 || segmentSize > MAX_PAYLOAD) {
            throw new IllegalArgumentException("segment size " + segmentSize + "; accepted: 1.." + MAX_PAYLOAD);
        }
    }

    /** Prepares slots {@code 0..count-1} for sendmmsg: iovec lengths and control messages. */
    int prepareSend() {
        if (count < 1) {
            throw new IllegalStateException("nothing to send: set the count (1.." + views.length + ") first");
        }
        for (int i = 0; i < count; i++) {
            if (vec.nameLength(i) < 2) {
                throw new IllegalStateException("slot " + i + " has no target: setTarget or receive into it first");
            }
            vec.setLength(i, views[i].limit());
            vec.setSegmentSize(i, segment[i]);
        }
        return count;
    }
}
