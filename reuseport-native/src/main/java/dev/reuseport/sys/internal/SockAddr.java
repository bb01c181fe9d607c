package dev.reuseport.sys.internal;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Encodes and decodes {@code struct sockaddr_in} and {@code struct sockaddr_in6} as byte arrays in
 * native byte order (the family in host order, port and address in network order), the form every
 * {@link NativeBackend} call takes.
 */
public final class SockAddr {
    /** AF_INET. */
    public static final int AF_INET = 2;
    /** AF_INET6. */
    public static final int AF_INET6 = 10;
    /** sizeof(struct sockaddr_in). */
    public static final int IN4_LEN = 16;
    /** sizeof(struct sockaddr_in6). */
    public static final int IN6_LEN = 28;
    /** Room for any address this library handles (sizeof(struct sockaddr_storage)). */
    public static final int MAX_LEN = 128;

    private SockAddr() {
    }

    /** The address family of {@code address}: {@link #AF_INET} or {@link #AF_INET6}. */
    public static int family(InetAddress address) {
        return address instanceof Inet6Address ? AF_INET6 : AF_INET;
    }

    /**
     * Encodes {@code address} into {@code out} and returns its length. An IPv4 address given to an
     * AF_INET6 socket ({@code family == AF_INET6}) is encoded as its IPv4-mapped IPv6 form.
     */
    public static int encode(InetSocketAddress address, int family, byte[] out) {
        InetAddress ip = address.getAddress();
        if (ip == null) {
            throw new IllegalArgumentException("unresolved address " + address + ": resolve it first");
        }
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.nativeOrder());
        int port = address.getPort();
        if (family == AF_INET) {
            if (!(ip instanceof Inet4Address)) {
                throw new IllegalArgumentException("address " + ip.getHostAddress()
                        + " is IPv6 but the socket is IPv4: use an IPv4 address");
            }
            b.putShort(0, (short) AF_INET);
            b.put(2, (byte) (port >>> 8)).put(3, (byte) port);
            byte[] a = ip.getAddress();
            System.arraycopy(a, 0, out, 4, 4);
            for (int i = 8; i < IN4_LEN; i++) {
                out[i] = 0;
            }
            return IN4_LEN;
        }
        b.putShort(0, (short) AF_INET6);
        b.put(2, (byte) (port >>> 8)).put(3, (byte) port);
        b.putInt(4, 0);
        byte[] a = ip.getAddress();
        if (a.length == 4) {
            for (int i = 8; i < 18; i++) {
                out[i] = 0;
            }
            out[18] = (byte) 0xff;
            out[19] = (byte) 0xff;
            System.arraycopy(a, 0, out, 20, 4);
            b.putInt(24, 0);
        } else {
            System.arraycopy(a, 0, out, 8, 16);
            b.putInt(24, ((Inet6Address) ip).getScopeId());
        }
        return IN6_LEN;
    }

    /** Decodes a sockaddr written by the kernel; null for a family other than AF_INET/AF_INET6. */
    public static InetSocketAddress decode(byte[] in) {
        ByteBuffer b = ByteBuffer.wrap(in).order(ByteOrder.nativeOrder());
        int family = b.getShort(0) & 0xffff;
        int port = ((in[2] & 0xff) << 8) | (in[3] & 0xff);
        try {
            if (family == AF_INET) {
                byte[] a = new byte[4];
                System.arraycopy(in, 4, a, 0, 4);
                return new InetSocketAddress(InetAddress.getByAddress(a), port);
            }
            if (family == AF_INET6) {
                byte[] a = new byte[16];
                System.arraycopy(in, 8, a, 0, 16);
                int scope = b.getInt(24);
                InetAddress ip = scope != 0 ? Inet6Address.getByAddress(null, a, scope) : InetAddress.getByAddress(a);
                return new InetSocketAddress(ip, port);
            }
        } catch (UnknownHostException e) {
            throw new IllegalStateException("kernel returned a malformed address", e);
        }
        return null;
    }
}
