package dev.reuseport.internal.member;

import java.net.InetSocketAddress;

/**
 * What every member socket of a group is: protocol, family, address and port, backlog, receive buffer
 * and the ingest options each member gets. Makes no syscall; {@link MemberSockets#open} makes a socket of
 * it, and the hand-off carries it.
 *
 * @param tcp            TCP (listening) when true, UDP otherwise
 * @param family         AF_INET or AF_INET6
 * @param local          the address and port every member binds (port 0: the kernel picks for the first)
 * @param backlog        the TCP accept-queue length
 * @param receiveBuffer  SO_RCVBUF in bytes, 0 for the kernel default
 * @param udpGro         UDP_GRO on every UDP member
 * @param busyPollMicros SO_BUSY_POLL in microseconds, 0 to leave it alone
 * @param preferBusyPoll SO_PREFER_BUSY_POLL on every member
 * @param flowCapacity   entries of the steering program's sticky flow table, 0 for the object's own
 * @param steps          a test's fault injection at the steps of a change; null (the builder's) for none
 */
public record GroupSpec(boolean tcp, int family, InetSocketAddress local, int backlog, int receiveBuffer,
                        boolean udpGro, int busyPollMicros, boolean preferBusyPoll, int flowCapacity,
                        ChangeSteps steps) {
    /**
     * A spec without fault injection (what the builder and the hand-off make).
     *
     * @param tcp            TCP (listening) when true, UDP otherwise
     * @param family         AF_INET or AF_INET6
     * @param local          the address and port every member binds
     * @param backlog        the TCP accept-queue length
     * @param receiveBuffer  SO_RCVBUF in bytes, 0 for the kernel default
     * @param udpGro         UDP_GRO on every UDP member
     * @param busyPollMicros SO_BUSY_POLL in microseconds, 0 to leave it alone
     * @param preferBusyPoll SO_PREFER_BUSY_POLL on every member
     * @param flowCapacity   entries of the sticky flow table, 0 for the object's own
     */
    public GroupSpec(boolean tcp, int family, InetSocketAddress local, int backlog, int receiveBuffer,
                     boolean udpGro, int busyPollMicros, boolean preferBusyPoll, int flowCapacity) {
        this(tcp, family, local, backlog, receiveBuffer, udpGro, busyPollMicros, preferBusyPoll, flowCapacity, null);
    }

    /**
     * A spec without ingest options.
     *
     * @param tcp           TCP (listening) when true, UDP otherwise
     * @param family        AF_INET or AF_INET6
     * @param local         the address and port every member binds
     * @param backlog       the TCP accept-queue length
     * @param receiveBuffer SO_RCVBUF in bytes, 0 for the kernel default
     */
    public GroupSpec(boolean tcp, int family, InetSocketAddress local, int backlog, int receiveBuffer) {
        this(tcp, family, local, backlog, receiveBuffer, false, 0, false, 0, null);
    }

    /**
     * The same spec at another port.
     *
     * @param port the port
     * @return the spec bound to {@code port}
     */
    public GroupSpec atPort(int port) {
        return new GroupSpec(tcp, family, new InetSocketAddress(local.getAddress(), port), backlog, receiveBuffer,
                udpGro, busyPollMicros, preferBusyPoll, flowCapacity, steps);
    }

    /**
     * The same spec with fault injection at the steps of every change (tests).
     *
     * @param hook the steps' hook
     * @return the spec with {@code hook}
     */
    public GroupSpec withSteps(ChangeSteps hook) {
        return new GroupSpec(tcp, family, local, backlog, receiveBuffer, udpGro, busyPollMicros, preferBusyPoll,
                flowCapacity, hook);
    }
}
