package dev.reuseport;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Sys;
import java.net.InetSocketAddress;

/**
 * The ingest socket options a group sets on every member it opens (issue 16): UDP GRO, SO_BUSY_POLL and
 * SO_PREFER_BUSY_POLL. Immutable; the builder makes a new one per change.
 */
final class IngestOptions {
    static final IngestOptions NONE = new IngestOptions(false, 0, false);

    final boolean udpGro;
    final int busyPollMicros;
    final boolean preferBusyPoll;

    IngestOptions(boolean udpGro, int busyPollMicros, boolean preferBusyPoll) {
        this.udpGro = udpGro;
        this.busyPollMicros = busyPollMicros;
        this.preferBusyPoll = preferBusyPoll;
    }

    IngestOptions withGro(boolean on) {
        return new IngestOptions(on, busyPollMicros, preferBusyPoll);
    }

    IngestOptions withBusyPoll(int micros) {
        return new IngestOptions(udpGro, micros, preferBusyPoll);
    }

    IngestOptions withPreferBusyPoll(boolean on) {
        return new IngestOptions(udpGro, busyPollMicros, on);
    }

    /** Sets the options on {@code fd}; what the defaults leave alone is not touched. */
    void apply(int fd, Protocol protocol) throws NativeException {
        if (udpGro && protocol == Protocol.UDP) {
            Sys.setInt(fd, Sys.SOL_UDP, Sys.UDP_GRO, 1);
        }
        if (busyPollMicros > 0) {
            Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_BUSY_POLL, busyPollMicros);
        }
        if (preferBusyPoll) {
            Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_PREFER_BUSY_POLL, 1);
        }
    }

    /** {@link ReuseportGroup#openMember} and then these options; the socket is closed when one fails. */
    static int openMember(Protocol protocol, int family, InetSocketAddress bound, int backlog, int receiveBuffer,
                          IngestOptions options) throws NativeException {
        int fd = ReuseportGroup.openMember(protocol, family, bound, backlog, receiveBuffer);
        try {
            options.apply(fd, protocol);
            return fd;
        } catch (NativeException e) {
            try {
                Sys.close(fd);
            } catch (NativeException c) {
                e.addSuppressed(c);
            }
            throw e;
        }
    }

    @Override
    public String toString() {
        return "udp-gro " + (udpGro ? "on" : "off") + ", busy-poll " + busyPollMicros + " us, prefer-busy-poll "
                + (preferBusyPoll ? "on" : "off");
    }
}
