package dev.reuseport;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Sockets outside a group that take part of its traffic before its steering program runs, found in the
 * namespace's {@code /proc/net/tcp}, {@code tcp6}, {@code udp} and {@code udp6}. The kernel looks up the
 * best-matching socket first and runs a reuseport group's program only among the members of the group it
 * found (the kernel's {@code reuseport_addr_any.c} and {@code reuseport_dualstack.c} selftests):
 * <ul>
 *   <li>a group on {@code 0.0.0.0:P} loses traffic to {@code A:P} to any listening TCP (unconnected UDP)
 *       socket bound to the specific address {@code A:P}, of any user that may bind it (the same uid with
 *       SO_REUSEPORT, or anyone when the group's sockets have it off);</li>
 *   <li>a group on {@code [::]:P} likewise to a socket on a specific IPv6 address, and loses IPv4 traffic
 *       to any IPv4 socket on port P (the kernel prefers AF_INET sockets for IPv4).</li>
 * </ul>
 * A group on a specific address has no such shadows (a more specific match does not exist). Connected
 * UDP sockets (which only take their own peer's datagrams) are not reported.
 */
public final class PortShadows {
    private PortShadows() {
    }

    /**
     * One socket that shadows part of a group.
     *
     * @param protocol the socket's protocol, the group's
     * @param address  the socket's local address and port
     * @param inode    the socket's inode (as in {@code /proc/PID/fd/N -> socket:[inode]}), to find its owner
     * @param uid      the socket's owner uid
     */
    public record Shadow(Protocol protocol, InetSocketAddress address, long inode, int uid) {
    }

    /**
     * The sockets that shadow {@code group} now.
     *
     * @param group the group (a closed group has none)
     * @return the shadows, in {@code /proc} order; empty when none, when the group is bound to a specific
     *         address, or when {@code /proc/net} cannot be read
     */
    public static List<Shadow> of(ReuseportGroup group) {
        if (group.isClosed()) {
            return List.of();
        }
        InetSocketAddress bound = group.localAddress();
        InetAddress ours = bound.getAddress();
        if (!ours.isAnyLocalAddress()) {
            return List.of();
        }
        boolean v6 = !(ours instanceof Inet4Address);
        String base = group.protocol() == Protocol.TCP ? "/proc/net/tcp" : "/proc/net/udp";
        List<Shadow> out = new ArrayList<>();
        // an IPv4 group: specific IPv4 sockets; an IPv6 (dual-stack) group: every IPv4 socket, specific IPv6 ones
        scan(Path.of(base), group.protocol(), bound.getPort(), v6, out);
        if (v6) {
            scan(Path.of(base + "6"), group.protocol(), bound.getPort(), false, out);
        }
        return List.copyOf(out);
    }

    /**
     * The shadows as lines for a status report: none when there are none, else one line per socket
     * (e.g. {@code shadowed 127.0.0.1:8080 by tcp socket inode 12345 uid 1000: its traffic skips the
     * group's program}).
     *
     * @param group the group
     * @return the lines, possibly empty
     */
    public static List<String> report(ReuseportGroup group) {
        List<String> lines = new ArrayList<>();
        for (Shadow s : of(group)) {
            InetAddress ip = s.address().getAddress();
            String host = ip instanceof Inet4Address ? ip.getHostAddress() : "[" + ip.getHostAddress() + "]";
            lines.add("shadowed " + host + ":" + s.address().getPort() + " by " + s.protocol().name().toLowerCase(
                    java.util.Locale.ROOT) + " socket inode " + s.inode() + " uid " + s.uid()
                    + ": traffic to it skips the group and its program");
        }
        return lines;
    }

    private static void scan(Path file, Protocol protocol, int port, boolean anyAddress, List<Shadow> out) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            return; // no such family here (IPv6 off), or procfs not mounted: nothing to report
        }
        String wantState = protocol == Protocol.TCP ? "0A" : "07"; // LISTEN; an unconnected UDP socket
        for (int i = 1; i < lines.size(); i++) {
            String[] f = lines.get(i).trim().split("\\s+");
            if (f.length < 10 || !f[3].equals(wantState)) {
                continue;
            }
            InetSocketAddress local = parse(f[1]);
            InetSocketAddress remote = parse(f[2]);
            if (local == null || remote == null || local.getPort() != port || remote.getPort() != 0) {
                continue;
            }
            if (!anyAddress && local.getAddress().isAnyLocalAddress()) {
                continue; // the group itself, or a same-uid socket that joined its kernel group
            }
            try {
                out.add(new Shadow(protocol, local, Long.parseLong(f[9]), Integer.parseInt(f[7])));
            } catch (NumberFormatException e) {
                // a line of another layout: skip it
            }
        }
    }

    /** {@code 0100007F:1F90} (IPv4) or 32 hex digits and a port (IPv6), each 32-bit word in host order. */
    static InetSocketAddress parse(String hex) {
        int colon = hex.indexOf(':');
        if (colon < 0 || (colon != 8 && colon != 32)) {
            return null;
        }
        try {
            ByteBuffer b = ByteBuffer.allocate(colon / 2).order(ByteOrder.nativeOrder());
            for (int w = 0; w < colon; w += 8) {
                b.putInt((int) Long.parseLong(hex.substring(w, w + 8), 16));
            }
            int port = Integer.parseInt(hex.substring(colon + 1), 16);
            return new InetSocketAddress(InetAddress.getByAddress(b.array()), port);
        } catch (NumberFormatException | UnknownHostException e) {
            return null;
        }
    }
}
