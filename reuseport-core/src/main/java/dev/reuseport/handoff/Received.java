package dev.reuseport.handoff;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.HashSet;
import java.util.Set;

/**
 * The new side's checks of what a hand-off delivered, before it answers: every socket descriptor is what
 * the layout says a member of the group is, the slots are distinct and in range, and there is at least
 * one socket. A failure names the slot, the value found and what is accepted.
 */
final class Received {
    /** The highest slot a group has (256 workers). */
    static final int MAX_SLOT = 255;

    private Received() {
    }

    /**
     * Checks {@code l}'s sockets; {@code protocol} and {@code port} are what the caller expects (null, 0:
     * anything the layout says).
     *
     * @return the sockets' cookies, in slot order
     * @throws IllegalArgumentException naming what is wrong
     */
    static long[] check(Handoff.Layout l, String protocol, int port) throws NativeException {
        int[] slots = l.slots();
        if (slots.length == 0) {
            throw new IllegalArgumentException("the layout names no socket; accepted: at least one");
        }
        if (protocol != null && !protocol.equals(l.protocol())) {
            throw new IllegalArgumentException("the layout is a " + l.protocol() + " group; accepted: " + protocol);
        }
        if (port != 0 && l.port() != port) {
            throw new IllegalArgumentException("the layout's port is " + l.port() + "; accepted: " + port
                    + " (the port this process asked for)");
        }
        if (l.port() < 1 || l.port() > 65535) {
            throw new IllegalArgumentException("the layout's port " + l.port() + " is out of range; accepted: 1..65535");
        }
        if (l.address() == null || !(l.address().indexOf(':') >= 0 || l.address().matches("[0-9.]+"))) {
            throw new IllegalArgumentException("the layout's address '" + l.address() + "' is not an IP literal");
        }
        InetAddress address;
        try {
            address = InetAddress.getByName(l.address());
        } catch (UnknownHostException | RuntimeException e) {
            throw new IllegalArgumentException("the layout's address '" + l.address() + "' is not an IP literal", e);
        }
        int family = SockAddr.family(address);
        boolean tcp = "TCP".equals(l.protocol());
        Set<Integer> seen = new HashSet<>();
        Set<Long> sockets = new HashSet<>();
        long[] cookies = new long[slots.length];
        for (int i = 0; i < slots.length; i++) {
            int slot = slots[i];
            if (slot < 0 || slot > MAX_SLOT) {
                throw new IllegalArgumentException("slot " + slot + " is out of range; accepted: 0.." + MAX_SLOT);
            }
            if (!seen.add(slot)) {
                throw new IllegalArgumentException("slot " + slot + " appears twice in slots=" + java.util.Arrays.toString(
                        slots) + "; accepted: distinct slots");
            }
            int fd = l.fds()[i];
            String what = "descriptor for slot " + slot;
            int domain = Sys.getInt(fd, Sys.SOL_SOCKET, Sys.SO_DOMAIN);
            if (domain != family) {
                throw new IllegalArgumentException(what + " has address family " + domain + "; accepted: " + family
                        + " (that of " + l.address() + ")");
            }
            int type = Sys.getInt(fd, Sys.SOL_SOCKET, Sys.SO_TYPE);
            int wantType = tcp ? Sys.SOCK_STREAM : Sys.SOCK_DGRAM;
            if (type != wantType) {
                throw new IllegalArgumentException(what + " is a " + (type == Sys.SOCK_DGRAM ? "UDP" : type
                        == Sys.SOCK_STREAM ? "TCP" : "type " + type) + " socket (SO_TYPE " + type + "); accepted: "
                        + l.protocol() + ", as the layout says");
            }
            int proto = Sys.getInt(fd, Sys.SOL_SOCKET, Sys.SO_PROTOCOL);
            int wantProto = tcp ? Sys.IPPROTO_TCP : Sys.IPPROTO_UDP;
            if (proto != wantProto) {
                throw new IllegalArgumentException(what + " has SO_PROTOCOL " + proto + "; accepted: " + wantProto);
            }
            if (tcp && Sys.getInt(fd, Sys.SOL_SOCKET, Sys.SO_ACCEPTCONN) != 1) {
                throw new IllegalArgumentException(what + " is not listening (SO_ACCEPTCONN 0: an accepted "
                        + "connection?); accepted: a listening socket");
            }
            InetSocketAddress at = Sys.localAddress(fd);
            if (at.getPort() != l.port() || !address.equals(at.getAddress())) {
                throw new IllegalArgumentException(what + " is bound to " + at + "; accepted: " + l.address() + " port "
                        + l.port() + ", as the layout says");
            }
            if (Sys.getInt(fd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT) != 1) {
                throw new IllegalArgumentException(what + " does not have SO_REUSEPORT; accepted: a member socket");
            }
            if ((Sys.fileStatusFlags(fd) & Sys.O_NONBLOCK) == 0) {
                throw new IllegalArgumentException(what + " is blocking (O_NONBLOCK clear); accepted: a non-blocking "
                        + "socket, as every member is");
            }
            cookies[i] = Sys.getLong(fd, Sys.SOL_SOCKET, Sys.SO_COOKIE);
            if (!sockets.add(cookies[i])) {
                throw new IllegalArgumentException(what + " is the same socket as another slot's (SO_COOKIE "
                        + Long.toHexString(cookies[i]) + "); accepted: one socket per slot");
            }
        }
        return cookies;
    }

    /** The generation of a {@code serving generation=N} line (0..255), or -1 when it is not one. */
    static int servingGeneration(String line) {
        java.util.regex.Matcher m = line == null ? null
                : java.util.regex.Pattern.compile("serving generation=(\\d{1,3})").matcher(line);
        if (m == null || !m.matches()) {
            return -1;
        }
        int n = Integer.parseInt(m.group(1));
        return n < dev.reuseport.bpf.SteerProgram.MAX_GENERATIONS ? n : -1;
    }
}
