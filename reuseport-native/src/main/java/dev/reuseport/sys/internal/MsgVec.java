package dev.reuseport.sys.internal;

import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A reusable array of {@code struct mmsghdr} for recvmmsg(2) and sendmmsg(2), laid out once in native
 * memory (direct buffers) with, per slot, one iovec over the slot's part of a payload slab, room for a
 * socket address ({@code sockaddr_in6}) and a control buffer for one UDP_GRO or UDP_SEGMENT control
 * message. A call rewrites only the fields the kernel changes; nothing is allocated per call or per
 * datagram. Not thread-safe: one thread uses an instance at a time. Layout is LP64 Linux (x86_64,
 * aarch64).
 */
public final class MsgVec {
    /** The most slots one call takes: the kernel's UIO_MAXIOV, which recvmmsg and sendmmsg cap vlen to. */
    public static final int MAX_SLOTS = 1024;
    /** The largest UDP payload over IPv4 (65,535 - 8 - 20): the most a datagram or a GSO train can hold. */
    public static final int MAX_UDP_PAYLOAD = 65_507;
    /** SOL_UDP. */
    public static final int SOL_UDP = 17;
    /** UDP_SEGMENT (Linux 4.18): the segment size of a GSO send, as a socket option or control message. */
    public static final int UDP_SEGMENT = 103;
    /** UDP_GRO (Linux 5.0): receive coalesced datagrams; the control message carries the segment size. */
    public static final int UDP_GRO = 104;
    /** MSG_TRUNC: the datagram was longer than the buffer (in msg_flags). */
    public static final int MSG_TRUNC = 0x20;
    /** MSG_CTRUNC: a control message did not fit (in msg_flags). */
    public static final int MSG_CTRUNC = 0x8;

    private static final NativeBackend B = Native.backend();

    // struct mmsghdr (LP64): struct msghdr (56) + unsigned msg_len + padding
    private static final int MMSG = 64;
    private static final int NAME = 0;
    private static final int NAMELEN = 8;
    private static final int IOV = 16;
    private static final int IOVLEN = 24;
    private static final int CONTROL = 32;
    private static final int CONTROLLEN = 40;
    private static final int FLAGS = 48;
    private static final int LEN = 56;
    private static final int IOVEC = 16;
    /** Room for a sockaddr_in6 (28), rounded up. */
    private static final int NAME_ROOM = 32;
    /** CMSG_SPACE(sizeof(int)) = 24, rounded up. */
    private static final int CTRL_ROOM = 32;
    private static final int CMSG_HDR = 16;

    private final int slots;
    private final int slotBytes;
    private final ByteBuffer meta;
    private final long metaAddress;
    private final ByteBuffer data;
    private final long dataAddress;
    private final int iovBase;
    private final int nameBase;
    private final int ctrlBase;

    /**
     * Lays out {@code slots} messages, each with {@code slotBytes} of payload (0: no slab; the iovec is
     * pointed at the caller's memory per call with {@link #receiveInto}).
     *
     * @param slots     1..{@link #MAX_SLOTS}
     * @param slotBytes 0..65,535
     * @throws IllegalArgumentException when a value is out of range, naming it
     */
    public MsgVec(int slots, int slotBytes) {
        if (slots < 1 || slots > MAX_SLOTS) {
            throw new IllegalArgumentException("batch of " + slots + " datagrams; accepted: 1.." + MAX_SLOTS);
        }
        if (slotBytes < 0 || slotBytes > 65_535) {
            throw new IllegalArgumentException("slot of " + slotBytes + " bytes; accepted: 0..65535");
        }
        this.slots = slots;
        this.slotBytes = slotBytes;
        iovBase = slots * MMSG;
        nameBase = iovBase + slots * IOVEC;
        ctrlBase = nameBase + slots * NAME_ROOM;
        meta = ByteBuffer.allocateDirect(ctrlBase + slots * CTRL_ROOM).order(ByteOrder.nativeOrder());
        metaAddress = B.directBufferAddress(meta);
        data = ByteBuffer.allocateDirect(Math.max(1, slots * slotBytes)).order(ByteOrder.nativeOrder());
        dataAddress = B.directBufferAddress(data);
        for (int i = 0; i < slots; i++) {
            int h = i * MMSG;
            meta.putLong(h + NAME, metaAddress + nameBase + (long) i * NAME_ROOM);
            meta.putInt(h + NAMELEN, 0); // no target until set or received
            meta.putLong(h + IOV, metaAddress + iovBase + (long) i * IOVEC);
            meta.putLong(h + IOVLEN, 1L);
            meta.putLong(iovBase + i * IOVEC, dataAddress + (long) i * slotBytes);
            meta.putLong(iovBase + i * IOVEC + 8, slotBytes);
        }
    }

    /** @return the number of slots */
    public int slots() {
        return slots;
    }

    /** @return the payload bytes per slot */
    public int slotBytes() {
        return slotBytes;
    }

    /** @return the payload slab: slot {@code i} is at {@code [i * slotBytes, (i + 1) * slotBytes)} */
    public ByteBuffer data() {
        return data;
    }

    /** @return the metadata block (for tests and for copying socket addresses) */
    ByteBuffer meta() {
        return meta;
    }

    /**
     * recvmmsg(2) of at most {@code vlen} datagrams into slots {@code 0..vlen-1}, retrying EINTR.
     *
     * @param fd      the socket
     * @param vlen    1..slots
     * @param flags   e.g. MSG_DONTWAIT
     * @param control whether to offer each slot a control buffer (for the UDP_GRO message)
     * @return the datagrams received, 0 when none was queued (EAGAIN)
     * @throws NativeException recvmmsg with the errno
     */
    public int receive(int fd, int vlen, int flags, boolean control) throws NativeException {
        for (int i = 0; i < vlen; i++) {
            int h = i * MMSG;
            meta.putInt(h + NAMELEN, NAME_ROOM);
            meta.putLong(iovBase + i * IOVEC + 8, slotBytes);
            if (control) {
                meta.putLong(h + CONTROL, metaAddress + ctrlBase + (long) i * CTRL_ROOM);
                meta.putLong(h + CONTROLLEN, CTRL_ROOM);
            } else {
                meta.putLong(h + CONTROL, 0L);
                meta.putLong(h + CONTROLLEN, 0L);
            }
            meta.putInt(h + FLAGS, 0);
        }
        int r;
        do {
            r = B.recvmmsg(fd, metaAddress, vlen, flags);
        } while (r == -Errno.EINTR);
        if (r == -Errno.EAGAIN) {
            return 0;
        }
        return Sys.check("recvmmsg", r);
    }

    /**
     * recvmsg(2) of one datagram into {@code len} bytes at the caller's {@code address}, its source
     * into slot 0's address room (slot 0's iovec is re-pointed; this is for a slab-less instance).
     *
     * @return the bytes placed (at most {@code len}), or -1 when none was queued (EAGAIN); slot 0's
     *         flags tell truncation
     * @throws NativeException recvmsg with the errno
     */
    public int receiveInto(int fd, long address, int len, int flags) throws NativeException {
        meta.putInt(NAMELEN, NAME_ROOM);
        meta.putLong(iovBase, address);
        meta.putLong(iovBase + 8, len);
        meta.putLong(CONTROL, 0L);
        meta.putLong(CONTROLLEN, 0L);
        meta.putInt(FLAGS, 0);
        int r;
        do {
            r = B.recvmsgAt(fd, metaAddress, flags);
        } while (r == -Errno.EINTR);
        if (r == -Errno.EAGAIN) {
            return -1;
        }
        Sys.check("recvmsg", r);
        meta.putInt(LEN, r);
        return r;
    }

    private ByteBuffer scratch;

    /**
     * recvmsg(2) of one datagram into {@code dst} from its position (advancing it by the bytes placed),
     * the source into slot 0's address room; a heap buffer goes through a direct scratch buffer this
     * instance keeps (made on first use, 65,535 bytes).
     *
     * @return the bytes placed, or -1 when none was queued (EAGAIN); {@link #flags(int) flags(0)} tells
     *         truncation
     * @throws NativeException recvmsg with the errno
     */
    public int receiveInto(int fd, ByteBuffer dst, int flags) throws NativeException {
        int want = dst.remaining();
        if (dst.isDirect()) {
            int r = receiveInto(fd, B.directBufferAddress(dst) + dst.position(), want, flags);
            java.lang.ref.Reference.reachabilityFence(dst); // its memory stays until the call returned
            if (r > 0) {
                dst.position(dst.position() + Math.min(r, want));
            }
            return r;
        }
        if (scratch == null) {
            scratch = ByteBuffer.allocateDirect(65_535);
        }
        int n = Math.min(want, scratch.capacity());
        int r = receiveInto(fd, B.directBufferAddress(scratch), n, flags);
        if (r > 0) {
            scratch.clear().limit(Math.min(r, n));
            dst.put(scratch);
        }
        return r;
    }

    /**
     * sendmmsg(2) of slots {@code from..from+count-1} (each as set by {@link #setLength},
     * {@link #setName} and {@link #setSegmentSize}), retrying EINTR.
     *
     * @return the messages sent, 0 when the send buffer was full (EAGAIN)
     * @throws NativeException sendmmsg with the errno
     */
    public int send(int fd, int from, int count, int flags) throws NativeException {
        int r;
        do {
            r = B.sendmmsg(fd, metaAddress + (long) from * MMSG, count, flags);
        } while (r == -Errno.EINTR);
        if (r == -Errno.EAGAIN) {
            return 0;
        }
        return Sys.check("sendmmsg", r);
    }

    /**
     * sendmsg(2) of slot 0 with its iovec pointed at {@code len} bytes at {@code address}.
     *
     * @return the bytes sent, 0 when the send buffer was full (EAGAIN)
     * @throws NativeException sendmsg with the errno
     */
    public int sendFrom(int fd, long address, int len, int flags) throws NativeException {
        meta.putLong(iovBase, address);
        meta.putLong(iovBase + 8, len);
        int r;
        do {
            r = B.sendmsgAt(fd, metaAddress, flags);
        } while (r == -Errno.EINTR);
        if (r == -Errno.EAGAIN) {
            return 0;
        }
        return Sys.check("sendmsg", r);
    }

    /** @return the bytes the kernel placed in slot {@code i} by the last receive */
    public int length(int i) {
        return meta.getInt(i * MMSG + LEN);
    }

    /** @return slot {@code i}'s msg_flags from the last receive (MSG_TRUNC, MSG_CTRUNC) */
    public int flags(int i) {
        return meta.getInt(i * MMSG + FLAGS);
    }

    /**
     * The UDP_GRO segment size the kernel reported for slot {@code i}'s last receive.
     *
     * @return the segment size, or 0 when the datagram came without one (not coalesced)
     */
    public int groSegmentSize(int i) {
        int h = i * MMSG;
        long ctlLen = Math.min(meta.getLong(h + CONTROLLEN), CTRL_ROOM);
        if (meta.getLong(h + CONTROL) == 0) {
            return 0;
        }
        int base = ctrlBase + i * CTRL_ROOM;
        long off = 0;
        while (off + CMSG_HDR <= ctlLen) {
            long clen = meta.getLong(base + (int) off);
            if (clen < CMSG_HDR || clen > ctlLen - off) {
                break;
            }
            if (meta.getInt(base + (int) off + 8) == SOL_UDP && meta.getInt(base + (int) off + 12) == UDP_GRO) {
                return clen >= CMSG_HDR + 4 ? meta.getInt(base + (int) off + CMSG_HDR)
                        : meta.getShort(base + (int) off + CMSG_HDR) & 0xffff;
            }
            off += (clen + 7) & ~7L;
        }
        return 0;
    }

    /** Sets slot {@code i}'s iovec length: the bytes a send takes from its slab slot. */
    public void setLength(int i, int len) {
        meta.putLong(iovBase + i * IOVEC + 8, len);
    }

    /** @return slot {@code i}'s iovec length as last set */
    public int iovLength(int i) {
        return (int) meta.getLong(iovBase + i * IOVEC + 8);
    }

    /**
     * Sets slot {@code i}'s destination: {@code len} bytes of a sockaddr from {@code sockaddr}; a length of
     * 0 sends without an address (a connected socket).
     */
    public void setName(int i, byte[] sockaddr, int len) {
        int at = nameBase + i * NAME_ROOM;
        for (int k = 0; k < len; k++) {
            meta.put(at + k, sockaddr[k]);
        }
        meta.putInt(i * MMSG + NAMELEN, len);
    }

    /** Copies slot {@code from}'s address (e.g. the source a receive stored) to slot {@code to}'s. */
    public void copyName(int from, int to) {
        if (from != to) {
            int a = nameBase + from * NAME_ROOM;
            int b = nameBase + to * NAME_ROOM;
            meta.putLong(b, meta.getLong(a));
            meta.putLong(b + 8, meta.getLong(a + 8));
            meta.putLong(b + 16, meta.getLong(a + 16));
            meta.putLong(b + 24, meta.getLong(a + 24));
        }
        meta.putInt(to * MMSG + NAMELEN, meta.getInt(from * MMSG + NAMELEN));
    }

    /** @return the length of slot {@code i}'s address (from the last receive, or as set) */
    public int nameLength(int i) {
        return meta.getInt(i * MMSG + NAMELEN);
    }

    /** Copies slot {@code i}'s address bytes into {@code out} (at least 28 bytes); returns its length. */
    public int copyNameOut(int i, byte[] out) {
        int len = Math.min(nameLength(i), Math.min(NAME_ROOM, out.length));
        int at = nameBase + i * NAME_ROOM;
        for (int k = 0; k < len; k++) {
            out[k] = meta.get(at + k);
        }
        return len;
    }

    /** @return slot {@code i}'s address family (AF_INET 2, AF_INET6 10), 0 when it has none */
    public int family(int i) {
        return nameLength(i) < 2 ? 0 : meta.getShort(nameBase + i * NAME_ROOM) & 0xffff;
    }

    /** @return slot {@code i}'s port (host order) */
    public int port(int i) {
        int at = nameBase + i * NAME_ROOM + 2;
        return ((meta.get(at) & 0xff) << 8) | (meta.get(at + 1) & 0xff);
    }

    /** @return slot {@code i}'s IPv4 address as an int, most significant byte first (a.b.c.d is a<<24|…) */
    public int ipv4(int i) {
        int at = nameBase + i * NAME_ROOM + 4;
        return ((meta.get(at) & 0xff) << 24) | ((meta.get(at + 1) & 0xff) << 16) | ((meta.get(at + 2) & 0xff) << 8)
                | (meta.get(at + 3) & 0xff);
    }

    /**
     * Sets or clears slot {@code i}'s UDP_SEGMENT control message: the send is cut by the kernel into
     * datagrams of {@code segmentSize} bytes (the last may be shorter). 0 clears it.
     */
    public void setSegmentSize(int i, int segmentSize) {
        int h = i * MMSG;
        if (segmentSize <= 0) {
            meta.putLong(h + CONTROL, 0L);
            meta.putLong(h + CONTROLLEN, 0L);
            return;
        }
        int base = ctrlBase + i * CTRL_ROOM;
        meta.putLong(base, CMSG_HDR + 2);           // CMSG_LEN(sizeof(uint16_t))
        meta.putInt(base + 8, SOL_UDP);
        meta.putInt(base + 12, UDP_SEGMENT);
        meta.putShort(base + CMSG_HDR, (short) segmentSize);
        meta.putLong(h + CONTROL, metaAddress + base);
        meta.putLong(h + CONTROLLEN, CMSG_HDR + 8);  // CMSG_SPACE(sizeof(uint16_t))
        meta.putInt(h + FLAGS, 0);
    }

    /** Clears every slot's control message (before a send after a receive that offered them). */
    public void clearControl(int count) {
        for (int i = 0; i < count; i++) {
            int h = i * MMSG;
            meta.putLong(h + CONTROL, 0L);
            meta.putLong(h + CONTROLLEN, 0L);
            meta.putInt(h + FLAGS, 0);
        }
    }
}
