package dev.reuseport.internal.member;

import java.net.InetSocketAddress;

/**
 * What every member socket of a group is: protocol, family, address and port, backlog and receive
 * buffer. Makes no syscall; {@link MemberSockets#open} makes a socket of it, and the hand-off carries it.
 *
 * @param tcp           TCP (listening) when true, UDP otherwise
 * @param family        AF_INET or AF_INET6
 * @param local         the address and port every member binds (port 0: the kernel picks for the first)
 * @param backlog       the TCP accept-queue length
 * @param receiveBuffer SO_RCVBUF in bytes, 0 for the kernel default
 */
public record GroupSpec(boolean tcp, int family, InetSocketAddress local, int backlog, int receiveBuffer) {
    /**
     * The same spec at another port.
     *
     * @param port the port
     * @return the spec bound to {@code port}
     */
    public GroupSpec atPort(int port) {
        return new GroupSpec(tcp, family, new InetSocketAddress(local.getAddress(), port), backlog, receiveBuffer);
    }
}
