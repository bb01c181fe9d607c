package dev.reuseport;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Sys;
import java.net.InetSocketAddress;

/**
 * The ingest socket options a group sets on every member it opens (issue 16): UDP GRO, SO_BUSY_POLL and
 * SO_PREFER_BUSY_POLL. Immutable; the builder makes a new one per change.
 */
final class IngestOptions {
    static final IngestOptions NONE = new IngestOptions(false, 0, false, 0);

    final boolean udpGro;
    final int busyPollMicros;
    final boolean preferBusyPoll;
    /** Entries of the steering program's sticky flow table; 0: the object's own (65,536). */
    final int flowCapacity;

    IngestOptions(boolean udpGro, int busyPollMicros, boolean preferBusyPoll, int flowCapacity) {
        this.udpGro = udpGro;
        this.busyPollMicros = busyPollMicros;
        this.preferBusyPoll = preferBusyPoll;
        this.flowCapacity = flowCapacity;
    }

    IngestOptions withGro(boolean on) {
        return new IngestOptions(on, busyPollMicros, preferBusyPoll, flowCapacity);
    }

    IngestOptions withBusyPoll(int micros) {
        return new IngestOptions(udpGro, micros, preferBusyPoll, flowCapacity);
    }

    IngestOptions withPreferBusyPoll(boolean on) {
        return new IngestOptions(udpGro, busyPollMicros, on, flowCapacity);
    }

    IngestOptions withFlowCapacity(int entries) {
        return new IngestOptions(udpGro, busyPollMicros, preferBusyPoll, entries);
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
                + (preferBusyPoll ? "on" : "off") + ", flow capacity " + (flowCapacity == 0 ? "default" : flowCapacity);
    }
}
