package dev.reuseport.sys.internal;

import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Socket and process calls. Each method calls the backend once (retrying EINTR where a call can block),
 * checks the result and throws {@link NativeException} naming the call and the errno. No result is
 * ignored.
 */
public final class Sys {
    /** SOCK_STREAM. */
    public static final int SOCK_STREAM = 1;
    /** SOCK_DGRAM. */
    public static final int SOCK_DGRAM = 2;
    /** SOCK_NONBLOCK. */
    public static final int SOCK_NONBLOCK = 0x800;
    /** SOCK_CLOEXEC. */
    public static final int SOCK_CLOEXEC = 0x80000;
    /** AF_UNIX. */
    public static final int AF_UNIX = 1;
    /** SOL_SOCKET. */
    public static final int SOL_SOCKET = 1;
    /** SO_REUSEADDR. */
    public static final int SO_REUSEADDR = 2;
    /** SO_ERROR. */
    public static final int SO_ERROR = 4;
    /** SO_SNDBUF. */
    public static final int SO_SNDBUF = 7;
    /** SO_RCVBUF. */
    public static final int SO_RCVBUF = 8;
    /** SO_RCVTIMEO. */
    public static final int SO_RCVTIMEO = 20;
    /** SO_SNDTIMEO. */
    public static final int SO_SNDTIMEO = 21;
    /** SO_REUSEPORT (Linux 3.9). */
    public static final int SO_REUSEPORT = 15;
    /** SO_PEERCRED. */
    public static final int SO_PEERCRED = 17;
    /** SO_RXQ_OVFL. */
    public static final int SO_RXQ_OVFL = 40;
    /** SO_INCOMING_CPU. */
    public static final int SO_INCOMING_CPU = 49;
    /** SO_ATTACH_REUSEPORT_CBPF (Linux 4.5). */
    public static final int SO_ATTACH_REUSEPORT_CBPF = 51;
    /** SO_ATTACH_REUSEPORT_EBPF (Linux 4.5 UDP, 4.6 TCP). */
    public static final int SO_ATTACH_REUSEPORT_EBPF = 52;
    /** SO_MEMINFO. */
    public static final int SO_MEMINFO = 55;
    /** SO_COOKIE. */
    public static final int SO_COOKIE = 57;
    /** SO_DETACH_REUSEPORT_BPF (Linux 5.3). */
    public static final int SO_DETACH_REUSEPORT_BPF = 68;
    /** IPPROTO_TCP. */
    public static final int IPPROTO_TCP = 6;
    /** IPPROTO_UDP. */
    public static final int IPPROTO_UDP = 17;
    /** IPPROTO_IPV6. */
    public static final int IPPROTO_IPV6 = 41;
    /** IPV6_V6ONLY. */
    public static final int IPV6_V6ONLY = 26;
    /** TCP_NODELAY. */
    public static final int TCP_NODELAY = 1;
    /** TCP_INFO. */
    public static final int TCP_INFO = 11;
    /** MSG_DONTWAIT. */
    public static final int MSG_DONTWAIT = 0x40;
    /** MSG_PEEK. */
    public static final int MSG_PEEK = 0x2;
    /** POLLIN. */
    public static final int POLLIN = 0x1;
    /** POLLOUT. */
    public static final int POLLOUT = 0x4;
    /** POLLERR. */
    public static final int POLLERR = 0x8;
    /** POLLHUP. */
    public static final int POLLHUP = 0x10;
    /** SHUT_RD. */
    public static final int SHUT_RD = 0;
    /** SHUT_WR. */
    public static final int SHUT_WR = 1;
    /** SHUT_RDWR. */
    public static final int SHUT_RDWR = 2;
    /** Index of the drop counter in SO_MEMINFO's array (SK_MEMINFO_DROPS). */
    public static final int SK_MEMINFO_DROPS = 8;
    /** Number of u32 values SO_MEMINFO returns (SK_MEMINFO_VARS). */
    public static final int SK_MEMINFO_VARS = 9;

    private static final NativeBackend B = Native.backend();
    private static final int SCRATCH = 64 * 1024;
    private static final ThreadLocal<ByteBuffer> DIRECT =
            ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(SCRATCH).order(ByteOrder.nativeOrder()));
    private static final ThreadLocal<byte[]> ADDR = ThreadLocal.withInitial(() -> new byte[SockAddr.MAX_LEN]);

    private Sys() {
    }

    static int check(String call, int result) throws NativeException {
        if (result < 0) {
            throw new NativeException(call, -result);
        }
        return result;
    }

    /** socket(2) with SOCK_CLOEXEC added. */
    public static int socket(int domain, int type, int protocol) throws NativeException {
        return check("socket", B.socket(domain, type | SOCK_CLOEXEC, protocol));
    }

    /** setsockopt(2) of an int. */
    public static void setInt(int fd, int level, int option, int value) throws NativeException {
        byte[] v = new byte[4];
        ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).putInt(0, value);
        check("setsockopt(" + optionName(level, option) + ")", B.setsockopt(fd, level, option, v, 4));
    }

    /** setsockopt(2) with raw bytes. */
    public static void setBytes(int fd, int level, int option, byte[] value) throws NativeException {
        check("setsockopt(" + optionName(level, option) + ")", B.setsockopt(fd, level, option, value, value.length));
    }

    /** SO_RCVTIMEO and SO_SNDTIMEO: blocking reads and writes on {@code fd} fail with EAGAIN after {@code millis}. */
    public static void setTimeouts(int fd, int millis) throws NativeException {
        byte[] tv = new byte[16];
        ByteBuffer b = ByteBuffer.wrap(tv).order(ByteOrder.nativeOrder());
        b.putLong(0, millis / 1000).putLong(8, (millis % 1000) * 1000L);
        check("setsockopt(SO_RCVTIMEO)", B.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16));
        check("setsockopt(SO_SNDTIMEO)", B.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, 16));
    }

    /** SO_PEERCRED of a connected Unix socket: {@code [pid, uid, gid]}. */
    public static int[] peerCredentials(int fd) throws NativeException {
        byte[] v = getBytes(fd, SOL_SOCKET, SO_PEERCRED, 12);
        ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.nativeOrder());
        return new int[] {b.getInt(0), b.getInt(4), b.getInt(8)};
    }

    /** getsockopt(2) of an int. */
    public static int getInt(int fd, int level, int option) throws NativeException {
        byte[] v = new byte[4];
        check("getsockopt(" + optionName(level, option) + ")", B.getsockopt(fd, level, option, v));
        return ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getInt(0);
    }

    /** getsockopt(2) of a 64-bit value (SO_COOKIE). */
    public static long getLong(int fd, int level, int option) throws NativeException {
        byte[] v = new byte[8];
        check("getsockopt(" + optionName(level, option) + ")", B.getsockopt(fd, level, option, v));
        return ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getLong(0);
    }

    /** getsockopt(2) into a buffer of {@code size} bytes, returned trimmed to the kernel's optlen. */
    public static byte[] getBytes(int fd, int level, int option, int size) throws NativeException {
        byte[] v = new byte[size];
        int len = check("getsockopt(" + optionName(level, option) + ")", B.getsockopt(fd, level, option, v));
        if (len == size) {
            return v;
        }
        byte[] out = new byte[len];
        System.arraycopy(v, 0, out, 0, len);
        return out;
    }

    /** bind(2). */
    public static void bind(int fd, InetSocketAddress address, int family) throws NativeException {
        byte[] a = new byte[SockAddr.MAX_LEN];
        int len = SockAddr.encode(address, family, a);
        check("bind", B.bind(fd, a, len));
    }

    /** connect(2); returns false for EINPROGRESS on a non-blocking socket. */
    public static boolean connect(int fd, InetSocketAddress address, int family) throws NativeException {
        byte[] a = new byte[SockAddr.MAX_LEN];
        int len = SockAddr.encode(address, family, a);
        int r;
        do {
            r = B.connect(fd, a, len);
        } while (r == -Errno.EINTR);
        if (r == -Errno.EINPROGRESS) {
            return false;
        }
        check("connect", r);
        return true;
    }

    /** connect(2) with a raw sockaddr (AF_UNIX). */
    public static void connectRaw(int fd, byte[] sockaddr, int len) throws NativeException {
        check("connect", B.connect(fd, sockaddr, len));
    }

    /** bind(2) with a raw sockaddr (AF_UNIX). */
    public static void bindRaw(int fd, byte[] sockaddr, int len) throws NativeException {
        check("bind", B.bind(fd, sockaddr, len));
    }

    /** listen(2). */
    public static void listen(int fd, int backlog) throws NativeException {
        check("listen", B.listen(fd, backlog));
    }

    /**
     * accept4(2) with SOCK_CLOEXEC (and SOCK_NONBLOCK when {@code nonBlocking}). Returns the new fd, or -1
     * when the listener is non-blocking and nothing is queued (EAGAIN).
     */
    public static int accept(int fd, boolean nonBlocking) throws NativeException {
        int flags = SOCK_CLOEXEC | (nonBlocking ? SOCK_NONBLOCK : 0);
        int r;
        do {
            r = B.accept4(fd, null, flags);
        } while (r == -Errno.EINTR || r == -Errno.ECONNABORTED);
        if (r == -Errno.EAGAIN) {
            return -1;
        }
        return check("accept4", r);
    }

    /** getsockname(2). */
    public static InetSocketAddress localAddress(int fd) throws NativeException {
        byte[] a = new byte[SockAddr.MAX_LEN];
        check("getsockname", B.getsockname(fd, a));
        return SockAddr.decode(a);
    }

    /** getpeername(2). */
    public static InetSocketAddress peerAddress(int fd) throws NativeException {
        byte[] a = new byte[SockAddr.MAX_LEN];
        check("getpeername", B.getpeername(fd, a));
        return SockAddr.decode(a);
    }

    /** shutdown(2); ENOTCONN is not an error here (nothing to shut down). */
    public static void shutdown(int fd, int how) throws NativeException {
        int r = B.shutdown(fd, how);
        if (r != -Errno.ENOTCONN) {
            check("shutdown", r);
        }
    }

    /** close(2). */
    public static void close(int fd) throws NativeException {
        int r = B.close(fd);
        if (r != -Errno.EINTR) { // Linux releases the fd even on EINTR; retrying could close a reused number
            check("close", r);
        }
    }

    /** dup with FD_CLOEXEC. */
    public static int dup(int fd) throws NativeException {
        return check("fcntl(F_DUPFD_CLOEXEC)", B.dupCloexec(fd));
    }

    /** O_NONBLOCK of the file status flags. */
    public static final int O_NONBLOCK = 0x800;
    /** SO_TYPE. */
    public static final int SO_TYPE = 3;
    /** SO_ACCEPTCONN. */
    public static final int SO_ACCEPTCONN = 30;
    /** SO_PROTOCOL. */
    public static final int SO_PROTOCOL = 38;
    /** SO_DOMAIN. */
    public static final int SO_DOMAIN = 39;

    /** fcntl(F_GETFL): the descriptor's file status flags ({@link #O_NONBLOCK}, ...). */
    public static int fileStatusFlags(int fd) throws NativeException {
        return check("fcntl(F_GETFL)", B.fileStatusFlags(fd));
    }

    /**
     * poll(2) on one fd for {@code events}; returns the revents, 0 on timeout. A negative timeout waits
     * forever. EINTR restarts with the full timeout (threads here are not signalled).
     */
    public static int poll(int fd, int events, int timeoutMillis) throws NativeException {
        int r;
        do {
            r = B.poll(fd, events, timeoutMillis);
        } while (r == -Errno.EINTR);
        return check("poll", r);
    }

    /**
     * read(2) into {@code dst} from its position, advancing it. Returns the bytes read, -1 at end of
     * stream, 0 when a non-blocking socket has nothing (EAGAIN).
     */
    public static int read(int fd, ByteBuffer dst) throws NativeException {
        int want = dst.remaining();
        if (want == 0) {
            return 0;
        }
        if (dst.isDirect()) {
            long address = B.directBufferAddress(dst) + dst.position();
            int r = retry(fd, address, want, true);
            java.lang.ref.Reference.reachabilityFence(dst); // its memory stays until the call returned
            if (r > 0) {
                dst.position(dst.position() + r);
            }
            return r == 0 ? -1 : r == -Errno.EAGAIN ? 0 : check("read", r);
        }
        ByteBuffer tmp = DIRECT.get();
        int n = Math.min(want, SCRATCH);
        int r = retry(fd, B.directBufferAddress(tmp), n, true);
        if (r > 0) {
            tmp.clear().limit(r);
            dst.put(tmp);
        }
        return r == 0 ? -1 : r == -Errno.EAGAIN ? 0 : check("read", r);
    }

    /** write(2) from {@code src} at its position, advancing it. Returns bytes written (0 on EAGAIN). */
    public static int write(int fd, ByteBuffer src) throws NativeException {
        int want = src.remaining();
        if (want == 0) {
            return 0;
        }
        if (src.isDirect()) {
            int r = retry(fd, B.directBufferAddress(src) + src.position(), want, false);
            java.lang.ref.Reference.reachabilityFence(src); // its memory stays until the call returned
            if (r == -Errno.EAGAIN) {
                return 0;
            }
            check("write", r);
            src.position(src.position() + r);
            return r;
        }
        ByteBuffer tmp = DIRECT.get();
        int n = Math.min(want, SCRATCH);
        tmp.clear();
        int lim = src.limit();
        src.limit(src.position() + n);
        tmp.put(src.duplicate());
        src.limit(lim);
        int r = retry(fd, B.directBufferAddress(tmp), n, false);
        if (r == -Errno.EAGAIN) {
            return 0;
        }
        check("write", r);
        src.position(src.position() + r);
        return r;
    }

    /**
     * recv(2) with MSG_PEEK into the direct buffer {@code dst} at its position (not advancing it): what
     * is queued on a stream socket, left queued. Waits as the socket's mode and SO_RCVTIMEO say. Returns
     * the bytes seen, -1 at end of stream, 0 on EAGAIN (a timeout, or nothing queued when non-blocking).
     */
    public static int peek(int fd, ByteBuffer dst) throws NativeException {
        if (!dst.isDirect()) {
            throw new IllegalArgumentException("peek needs a direct buffer; got " + dst);
        }
        int r;
        do {
            r = B.recvfrom(fd, B.directBufferAddress(dst) + dst.position(), dst.remaining(), MSG_PEEK, null);
        } while (r == -Errno.EINTR);
        java.lang.ref.Reference.reachabilityFence(dst); // its memory stays until the call returned
        return r == 0 ? -1 : r == -Errno.EAGAIN ? 0 : check("recv", r);
    }

    private static int retry(int fd, long address, int len, boolean read) {
        int r;
        do {
            r = read ? B.read(fd, address, len) : B.write(fd, address, len);
        } while (r == -Errno.EINTR);
        return r;
    }

    /**
     * recvfrom(2) into {@code dst} (advancing its position; a datagram longer than the room left is
     * truncated, as the kernel does). Returns the sender, or null when nothing is queued (EAGAIN with
     * MSG_DONTWAIT or a non-blocking socket).
     */
    public static InetSocketAddress receive(int fd, ByteBuffer dst, int flags) throws NativeException {
        byte[] peer = ADDR.get();
        int want = dst.remaining();
        int r;
        if (dst.isDirect()) {
            long address = B.directBufferAddress(dst) + dst.position();
            do {
                r = B.recvfrom(fd, address, want, flags, peer);
            } while (r == -Errno.EINTR);
            java.lang.ref.Reference.reachabilityFence(dst); // its memory stays until the call returned
            if (r == -Errno.EAGAIN) {
                return null;
            }
            check("recvfrom", r);
            dst.position(dst.position() + Math.min(r, want));
        } else {
            ByteBuffer tmp = DIRECT.get();
            int n = Math.min(want, SCRATCH);
            do {
                r = B.recvfrom(fd, B.directBufferAddress(tmp), n, flags, peer);
            } while (r == -Errno.EINTR);
            if (r == -Errno.EAGAIN) {
                return null;
            }
            check("recvfrom", r);
            tmp.clear().limit(Math.min(r, n));
            dst.put(tmp);
        }
        return SockAddr.decode(peer);
    }

    /** sendto(2) of {@code src}'s remaining bytes to {@code target}; returns bytes sent (0 on EAGAIN). */
    public static int send(int fd, ByteBuffer src, InetSocketAddress target, int family, int flags)
            throws NativeException {
        byte[] a = ADDR.get();
        int alen = SockAddr.encode(target, family, a);
        int want = src.remaining();
        int r;
        if (src.isDirect()) {
            long address = B.directBufferAddress(src) + src.position();
            do {
                r = B.sendto(fd, address, want, flags, a, alen);
            } while (r == -Errno.EINTR);
            java.lang.ref.Reference.reachabilityFence(src); // its memory stays until the call returned
        } else {
            if (want > SCRATCH) {
                throw new IllegalArgumentException("datagram of " + want + " bytes from a heap buffer; "
                        + "accepted: up to " + SCRATCH + " bytes, or use a direct buffer");
            }
            ByteBuffer tmp = DIRECT.get();
            tmp.clear();
            tmp.put(src.duplicate());
            do {
                r = B.sendto(fd, B.directBufferAddress(tmp), want, flags, a, alen);
            } while (r == -Errno.EINTR);
        }
        if (r == -Errno.EAGAIN) {
            return 0;
        }
        check("sendto", r);
        src.position(src.position() + r);
        return r;
    }

    /** sendmsg(2) of {@code data} with {@code fds} as SCM_RIGHTS. */
    public static int sendFds(int fd, byte[] data, int[] fds) throws NativeException {
        int r;
        do {
            r = B.sendmsgFds(fd, data, data.length, fds, fds.length);
        } while (r == -Errno.EINTR);
        return check("sendmsg", r);
    }

    /**
     * recvmsg(2) into {@code data}, descriptors into {@code fdsOut} (unused entries -1). Returns the
     * bytes received, 0 at end of stream.
     */
    public static int receiveFds(int fd, byte[] data, int[] fdsOut) throws NativeException {
        int r;
        do {
            r = B.recvmsgFds(fd, data, fdsOut);
        } while (r == -Errno.EINTR);
        return check("recvmsg", r);
    }

    /** uname(2)'s release field, e.g. {@code 6.18.44}. */
    public static String kernelRelease() throws NativeException {
        byte[] u = new byte[390];
        check("uname", B.uname(u));
        int off = 2 * 65;
        int end = off;
        while (end < off + 65 && u[end] != 0) {
            end++;
        }
        return new String(u, off, end - off, StandardCharsets.US_ASCII);
    }

    /** getuid(2). */
    public static int uid() {
        return B.getuid();
    }

    /** membarrier(2)'s number on x86_64 (aarch64: 283). */
    public static final long SYS_MEMBARRIER = "aarch64".equals(System.getProperty("os.arch")) ? 283 : 324;
    /** MEMBARRIER_CMD_GLOBAL: returns once every CPU has passed an RCU grace period (synchronize_rcu). */
    public static final int MEMBARRIER_CMD_GLOBAL = 1;

    /**
     * The membarrier commands this kernel supports (MEMBARRIER_CMD_QUERY), a bit mask.
     *
     * @throws NativeException ENOSYS before Linux 4.3
     */
    public static int membarrierCommands() throws NativeException {
        return check("membarrier", B.membarrier(0));
    }

    /**
     * Waits for an RCU grace period (membarrier MEMBARRIER_CMD_GLOBAL, which the kernel implements with
     * synchronize_rcu): every softirq that was running when this was called, and so every packet a
     * steering program had already chosen a socket for, has finished and been queued.
     *
     * @throws NativeException when the kernel refuses (ENOSYS before 4.3, EINVAL with nohz_full)
     */
    public static void rcuGracePeriod() throws NativeException {
        int r;
        do {
            r = B.membarrier(MEMBARRIER_CMD_GLOBAL);
        } while (r == -Errno.EINTR);
        check("membarrier", r);
    }

    /** gettid(2)'s number on x86_64 (aarch64: 178). */
    public static final long SYS_GETTID = "aarch64".equals(System.getProperty("os.arch")) ? 178 : 186;
    /** setpriority(2)'s {@code which} for one process, which on Linux names one thread by its id. */
    public static final int PRIO_PROCESS = 0;

    /**
     * The calling thread's id (gettid(2)): the {@code <tid>} of {@code /proc/self/task/<tid>}.
     *
     * @return the thread id
     */
    public static int threadId() {
        return B.gettid();
    }

    /**
     * Sets the nice value of thread {@code tid} of this process (setpriority(PRIO_PROCESS, tid, nice)): on
     * Linux the nice value belongs to a thread, not to the process, so only that thread changes. Lowering it
     * below its current value (a higher priority) needs CAP_SYS_NICE or a matching RLIMIT_NICE.
     *
     * @param tid  the thread's id ({@link #threadId()} on it)
     * @param nice -20 (most favoured) to 19; the kernel clamps values outside
     * @throws NativeException setpriority with the errno: EACCES when the priority may not be raised, EPERM
     *                         when the thread belongs to another user, ESRCH when there is no such thread
     */
    public static void setThreadNice(int tid, int nice) throws NativeException {
        check("setpriority", B.setpriority(PRIO_PROCESS, tid, nice));
    }

    /** sched_setscheduler(2)'s policy: the default time-sharing class (priority 0, then the nice value counts). */
    public static final int SCHED_OTHER = 0;
    /** sched_setscheduler(2)'s policy: real-time round-robin (priority 1..99), ahead of every SCHED_OTHER thread. */
    public static final int SCHED_RR = 2;

    /**
     * Sets the scheduling policy of thread {@code tid} of this process (sched_setscheduler(tid, policy,
     * {sched_priority})). A real-time policy needs CAP_SYS_NICE (or RLIMIT_RTPRIO).
     *
     * @param tid      the thread's id ({@link #threadId()} on it)
     * @param policy   {@link #SCHED_OTHER} (priority 0) or {@link #SCHED_RR} (priority 1..99)
     * @param priority the static priority
     * @throws NativeException sched_setscheduler with the errno: EPERM when not allowed, EINVAL for a
     *                         priority outside the policy's range, ESRCH when there is no such thread
     */
    public static void setThreadScheduler(int tid, int policy, int priority) throws NativeException {
        check("sched_setscheduler", B.schedSetscheduler(tid, policy, priority));
    }

    /** sched_getcpu(3). */
    public static int currentCpu() throws NativeException {
        return check("sched_getcpu", B.schedGetcpu());
    }

    /** Pins the calling thread to {@code cpu} (sched_setaffinity). */
    public static void pinToCpu(int cpu) throws NativeException {
        check("sched_setaffinity", B.pinToCpu(cpu));
    }

    /**
     * TCP_INFO on a listening socket: {@code [accept queue length, its limit]} (the kernel reports
     * them as tcpi_unacked and tcpi_sacked for listeners).
     */
    public static int[] listenerQueue(int fd) throws NativeException {
        byte[] info = getBytes(fd, IPPROTO_TCP, TCP_INFO, 104);
        ByteBuffer b = ByteBuffer.wrap(info).order(ByteOrder.nativeOrder());
        return new int[] {b.getInt(24), b.getInt(28)};
    }

    /** SO_MEMINFO's SK_MEMINFO_DROPS counter (accept-queue overflows on a listener, receive-buffer drops on UDP). */
    public static long drops(int fd) throws NativeException {
        byte[] v = getBytes(fd, SOL_SOCKET, SO_MEMINFO, SK_MEMINFO_VARS * 4);
        if (v.length < SK_MEMINFO_VARS * 4) {
            return 0;
        }
        return ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getInt(SK_MEMINFO_DROPS * 4) & 0xffffffffL;
    }

    /** A readable name for a socket option, used in error messages. */
    static String optionName(int level, int option) {
        if (level == SOL_SOCKET) {
            switch (option) {
                case SO_REUSEADDR: return "SO_REUSEADDR";
                case SO_SNDBUF: return "SO_SNDBUF";
                case SO_RCVBUF: return "SO_RCVBUF";
                case SO_REUSEPORT: return "SO_REUSEPORT";
                case SO_PEERCRED: return "SO_PEERCRED";
                case SO_TYPE: return "SO_TYPE";
                case SO_ACCEPTCONN: return "SO_ACCEPTCONN";
                case SO_PROTOCOL: return "SO_PROTOCOL";
                case SO_DOMAIN: return "SO_DOMAIN";
                case SO_INCOMING_CPU: return "SO_INCOMING_CPU";
                case SO_ATTACH_REUSEPORT_CBPF: return "SO_ATTACH_REUSEPORT_CBPF";
                case SO_ATTACH_REUSEPORT_EBPF: return "SO_ATTACH_REUSEPORT_EBPF";
                case SO_MEMINFO: return "SO_MEMINFO";
                case SO_COOKIE: return "SO_COOKIE";
                case SO_DETACH_REUSEPORT_BPF: return "SO_DETACH_REUSEPORT_BPF";
                case SO_RXQ_OVFL: return "SO_RXQ_OVFL";
                case SO_ERROR: return "SO_ERROR";
                case SO_BUSY_POLL: return "SO_BUSY_POLL";
                case SO_PREFER_BUSY_POLL: return "SO_PREFER_BUSY_POLL";
                default: return "SOL_SOCKET/" + option;
            }
        }
        if (level == IPPROTO_TCP && option == TCP_INFO) {
            return "TCP_INFO";
        }
        if (level == IPPROTO_TCP && option == TCP_NODELAY) {
            return "TCP_NODELAY";
        }
        if (level == SOL_UDP && (option == UDP_GRO || option == UDP_SEGMENT)) {
            return option == UDP_GRO ? "UDP_GRO" : "UDP_SEGMENT";
        }
        if (level == IPPROTO_IPV6 && option == IPV6_V6ONLY) {
            return "IPV6_V6ONLY";
        }
        return level + "/" + option;
    }

    // --- recvmmsg/sendmmsg/GRO/GSO: ingest ---

    /** SO_BUSY_POLL (Linux 3.11): microseconds to busy-poll the device queue on a blocking receive. */
    public static final int SO_BUSY_POLL = 46;
    /** SO_PREFER_BUSY_POLL (Linux 5.11): prefer busy polling over softirq processing. */
    public static final int SO_PREFER_BUSY_POLL = 69;
    /** SOL_UDP. */
    public static final int SOL_UDP = MsgVec.SOL_UDP;
    /** UDP_SEGMENT (Linux 4.18). */
    public static final int UDP_SEGMENT = MsgVec.UDP_SEGMENT;
    /** UDP_GRO (Linux 5.0). */
    public static final int UDP_GRO = MsgVec.UDP_GRO;
    /** Bytes of a cpu_set_t as this library passes it: 1,024 CPUs. */
    public static final int CPU_SET_BYTES = 128;

    /**
     * sched_getaffinity(2) of the calling thread.
     *
     * @return the CPUs the thread may run on
     * @throws NativeException sched_getaffinity with the errno
     */
    public static java.util.BitSet affinity() throws NativeException {
        byte[] mask = new byte[CPU_SET_BYTES];
        int n = check("sched_getaffinity", B.schedGetaffinity(mask));
        return java.util.BitSet.valueOf(java.util.Arrays.copyOf(mask, n));
    }

    /**
     * sched_setaffinity(2) of the calling thread.
     *
     * @param cpus the CPUs it may run on (non-empty, each below 1,024)
     * @throws NativeException sched_setaffinity with the errno (EINVAL when none of them is online)
     */
    public static void setAffinity(java.util.BitSet cpus) throws NativeException {
        if (cpus.isEmpty() || cpus.length() > CPU_SET_BYTES * 8) {
            throw new IllegalArgumentException("CPU set " + cpus + "; accepted: a non-empty set of CPUs 0.."
                    + (CPU_SET_BYTES * 8 - 1));
        }
        check("sched_setaffinity", B.schedSetaffinity(cpus.toByteArray()));
    }

    // --- end ingest ---

    // --- epoll: the serving loop ---------------------------------------------------------------------

    /** epoll event: readable. */
    public static final int EPOLLIN = 0x001;
    /** epoll event: writable. */
    public static final int EPOLLOUT = 0x004;
    /** epoll event: error. */
    public static final int EPOLLERR = 0x008;
    /** epoll event: hang-up. */
    public static final int EPOLLHUP = 0x010;
    /** epoll event: the peer shut its writing side down. */
    public static final int EPOLLRDHUP = 0x2000;
    /** epoll flag: report once, then disarm until re-armed with EPOLL_CTL_MOD. */
    public static final int EPOLLONESHOT = 1 << 30;
    /** epoll_ctl op: add. */
    public static final int EPOLL_CTL_ADD = 1;
    /** epoll_ctl op: remove. */
    public static final int EPOLL_CTL_DEL = 2;
    /** epoll_ctl op: change the events. */
    public static final int EPOLL_CTL_MOD = 3;
    /** Size of {@code struct epoll_event}: packed (12 bytes) on x86_64, 16 bytes on the other 64-bit ABIs. */
    public static final int EPOLL_EVENT_SIZE = "amd64".equals(System.getProperty("os.arch"))
            || "x86_64".equals(System.getProperty("os.arch")) ? 12 : 16;
    /** Offset of {@code data} in {@code struct epoll_event}. */
    public static final int EPOLL_DATA_OFFSET = EPOLL_EVENT_SIZE == 12 ? 4 : 8;
    private static final int EPOLL_CLOEXEC = 0x80000;
    private static final int EFD_CLOEXEC = 0x80000;
    private static final int EFD_NONBLOCK = 0x800;

    /** epoll_create1(EPOLL_CLOEXEC): a new epoll descriptor, which the caller closes. */
    public static int epollCreate() throws NativeException {
        return check("epoll_create1", B.epollCreate1(EPOLL_CLOEXEC));
    }

    /**
     * epoll_ctl: {@code op} ({@link #EPOLL_CTL_ADD}, {@link #EPOLL_CTL_MOD}, {@link #EPOLL_CTL_DEL}) for
     * {@code fd} with {@code events} and the caller's {@code data} word, reported back by epoll_wait.
     */
    public static void epollCtl(int epfd, int op, int fd, int events, long data) throws NativeException {
        check(op == EPOLL_CTL_ADD ? "epoll_ctl(ADD)" : op == EPOLL_CTL_DEL ? "epoll_ctl(DEL)" : "epoll_ctl(MOD)",
                B.epollCtl(epfd, op, fd, events, data));
    }

    /**
     * epoll_wait into the direct buffer {@code events} (native order; room for
     * {@code events.capacity() / EPOLL_EVENT_SIZE} entries; read entry i's events at
     * {@code i * EPOLL_EVENT_SIZE} and its data at {@code i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET}).
     * Returns how many are ready: 0 on timeout or EINTR. Blocks up to {@code timeoutMillis} (negative:
     * forever), so call it from a platform thread, never a virtual one.
     */
    public static int epollWait(int epfd, ByteBuffer events, int timeoutMillis) throws NativeException {
        if (!events.isDirect()) {
            throw new IllegalArgumentException("epoll_wait needs a direct buffer; got " + events);
        }
        int max = events.capacity() / EPOLL_EVENT_SIZE;
        int r = B.epollWait(epfd, B.directBufferAddress(events), max, timeoutMillis);
        java.lang.ref.Reference.reachabilityFence(events); // its memory stays until the call returned
        return r == -Errno.EINTR ? 0 : check("epoll_wait", r);
    }

    /** eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK): a wake-up descriptor (write 8 bytes to signal, read to reset). */
    public static int eventfd() throws NativeException {
        return check("eventfd", B.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    }

    // --- end epoll -----------------------------------------------------------------------------------

    // --- systemd: adopting passed descriptors ------------------------------------------------------

    // (SO_TYPE, SO_ACCEPTCONN and SO_DOMAIN are with the hand-off checks' constants above)

    /** fcntl(F_SETFD, FD_CLOEXEC): the descriptor closes on exec. */
    public static void setCloexec(int fd) throws NativeException {
        check("fcntl(F_SETFD, FD_CLOEXEC)", B.setCloexec(fd));
    }

    /** fcntl(F_SETFL, O_NONBLOCK): the descriptor's I/O does not block (as the library's own sockets). */
    public static void setNonBlocking(int fd) throws NativeException {
        check("fcntl(F_SETFL, O_NONBLOCK)", B.setNonBlocking(fd));
    }

    /**
     * unsetenv(3) in the C library's environment: processes this one starts without an explicit
     * environment (exec, or ProcessBuilder left alone) no longer inherit {@code name}. The JVM's own
     * {@code System.getenv()} keeps the copy it took at start.
     */
    public static void unsetenv(String name) throws NativeException {
        check("unsetenv", B.unsetenv(name));
    }
}
