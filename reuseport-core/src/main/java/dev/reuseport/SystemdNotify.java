package dev.reuseport;

import dev.reuseport.internal.wire.Shown;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Sys;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The sending side of {@link Systemd}'s notify protocol: the {@code $NOTIFY_SOCKET} address, one datagram
 * per state (with descriptors for {@code FDSTORE=1}) through the library's native layer, and the watchdog
 * pings. {@link Systemd} keeps the public methods and says what to send.
 */
final class SystemdNotify {
    private static final System.Logger LOG = System.getLogger("dev.reuseport");

    private SystemdNotify() {
    }

    /** Pings the watchdog ({@code WATCHDOG=1}) every {@code millis} from a daemon thread; returns what stops it. */
    static AutoCloseable pingWatchdog(long millis) {
        Thread t = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    send("WATCHDOG=1", new int[0]);
                    Thread.sleep(millis);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (SystemdException e) {
                LOG.log(System.Logger.Level.WARNING, "watchdog ping failed, pings stop: " + e.getMessage());
            }
        }, "reuseport-systemd-watchdog");
        t.setDaemon(true);
        t.start();
        return t::interrupt;
    }

    /** The sockaddr_un of a NOTIFY_SOCKET value (a path, or '@' for an abstract name). */
    static byte[] notifyAddress(String value) throws SystemdException {
        byte[] path = value == null ? new byte[0] : value.getBytes(StandardCharsets.UTF_8);
        if (path.length < 2 || path.length > 107 || (path[0] != '/' && path[0] != '@')) {
            throw new SystemdException("NOTIFY_SOCKET=" + Shown.quote(value) + " is not a Unix socket address; "
                    + "accepted: an absolute path or an abstract name starting with '@', 2..107 bytes", null);
        }
        boolean abstractName = path[0] == '@';
        byte[] sa = new byte[2 + path.length + (abstractName ? 0 : 1)];
        java.nio.ByteBuffer.wrap(sa).order(ByteOrder.nativeOrder()).putShort(0, (short) Sys.AF_UNIX);
        System.arraycopy(path, 0, sa, 2, path.length);
        if (abstractName) {
            sa[2] = 0;
        }
        return sa;
    }

    /**
     * Sends {@code state} with the descriptors {@code fds} (SCM_RIGHTS; none for a plain notification) to
     * {@code $NOTIFY_SOCKET} as one datagram, on a socket opened and closed for it; false when it is not set.
     */
    static boolean send(String state, int[] fds) throws SystemdException {
        String target = System.getenv("NOTIFY_SOCKET");
        if (target == null || target.isEmpty()) {
            return false;
        }
        byte[] sa = notifyAddress(target);
        byte[] data = state.getBytes(StandardCharsets.UTF_8);
        int fd = -1;
        try {
            fd = Sys.socket(Sys.AF_UNIX, Sys.SOCK_DGRAM, 0);
            Sys.connectRaw(fd, sa, sa.length);
            Sys.sendFds(fd, data, fds);
            return true;
        } catch (NativeException e) {
            throw new SystemdException("cannot notify systemd at NOTIFY_SOCKET=" + target + " ("
                    + state.replace('\n', ' ') + "): " + e.getMessage(), e);
        } finally {
            if (fd >= 0) {
                try {
                    Sys.close(fd);
                } catch (NativeException e) {
                    LOG.log(System.Logger.Level.DEBUG, "close of the notify socket: " + e.getMessage());
                }
            }
        }
    }
}
