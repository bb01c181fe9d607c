package dev.reuseport.internal.member;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Sys;
import java.util.Arrays;

/** Opening and binding member sockets: SO_REUSEPORT, SO_RCVBUF, bind, and listen for TCP. */
public final class MemberSockets {
    private MemberSockets() {
    }

    /**
     * One member socket, non-blocking; closed again on failure.
     *
     * @param spec what to open
     * @return the descriptor
     * @throws NativeException the call that failed, with its errno
     */
    public static int open(GroupSpec spec) throws NativeException {
        int type = (spec.tcp() ? Sys.SOCK_STREAM : Sys.SOCK_DGRAM) | Sys.SOCK_NONBLOCK;
        int fd = Sys.socket(spec.family(), type, 0);
        try {
            Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
            if (spec.receiveBuffer() > 0) {
                Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_RCVBUF, spec.receiveBuffer());
            }
            if (spec.udpGro() && !spec.tcp()) {
                Sys.setInt(fd, Sys.SOL_UDP, Sys.UDP_GRO, 1);
            }
            if (spec.busyPollMicros() > 0) {
                Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_BUSY_POLL, spec.busyPollMicros());
            }
            if (spec.preferBusyPoll()) {
                Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_PREFER_BUSY_POLL, 1);
            }
            Sys.bind(fd, spec.local(), spec.family());
            if (spec.tcp()) {
                Sys.listen(fd, spec.backlog());
            }
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

    /**
     * {@code n} member sockets on one port (with port 0, the port the kernel gave the first); on a
     * failure the ones opened are closed (their close failures suppressed in it) and it is thrown.
     *
     * @param spec what to open
     * @param n    how many
     * @param port receives in element 0 the port bound, as soon as the first socket has it (for errors)
     * @return the descriptors
     * @throws NativeException the first failure
     */
    public static int[] open(GroupSpec spec, int n, int[] port) throws NativeException {
        int[] fds = new int[n];
        Arrays.fill(fds, -1);
        port[0] = spec.local().getPort();
        GroupSpec s = spec;
        try {
            for (int i = 0; i < n; i++) {
                fds[i] = open(s);
                if (i == 0) {
                    port[0] = Sys.localAddress(fds[0]).getPort();
                    s = spec.atPort(port[0]);
                }
            }
            return fds;
        } catch (NativeException e) {
            closeAll(fds, e);
            throw e;
        }
    }

    /**
     * Closes every descriptor {@code >= 0} in {@code fds}, adding close failures to {@code failure}.
     *
     * @param fds     the descriptors, -1 for none
     * @param failure what the close failures are suppressed in
     */
    public static void closeAll(int[] fds, Throwable failure) {
        for (int fd : fds) {
            if (fd >= 0) {
                try {
                    Sys.close(fd);
                } catch (NativeException c) {
                    failure.addSuppressed(c);
                }
            }
        }
    }

    /**
     * The port a member is bound to.
     *
     * @param fd the member
     * @return its local port
     * @throws NativeException when getsockname fails
     */
    public static int port(int fd) throws NativeException {
        return Sys.localAddress(fd).getPort();
    }
}
