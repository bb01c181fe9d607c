package dev.reuseport.sys.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * {@link NativeBackend} on the Foreign Function and Memory API (JDK 22+; this class lives in
 * {@code META-INF/versions/22} of the multi-release JAR).
 *
 * <p>libc is bound through {@link Linker#defaultLookup()} when the backend is created; libbpf is opened
 * lazily, on the first libbpf call, from {@code System.getProperty("reuseport.libbpf", "libbpf.so.1")}.
 * Every call that can fail captures errno ({@code Linker.Option.captureCallState("errno")}) into a
 * per-thread capture segment; socket addresses, option values and the pollfd go through per-thread
 * scratch memory, so the hot calls allocate no native memory.
 */
@SuppressWarnings("restricted")
final class FfmBackend implements NativeBackend {

    // errno values (Linux, x86_64 and aarch64)
    private static final int ENOENT = 2;
    private static final int EIO = 5;
    private static final int EINVAL = 22;
    private static final int ENOSYS = 38;
    private static final int EMSGSIZE = 90;

    private static final int F_DUPFD_CLOEXEC = 1030;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_CTRUNC = 0x8;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int UTSNAME_LEN = 390;
    private static final int CPU_SET_BYTES = 128;
    private static final int SOCKADDR_MAX = 128;

    // struct msghdr (LP64)
    private static final long MSGHDR_SIZE = 56;
    private static final long MSG_NAME = 0;
    private static final long MSG_NAMELEN = 8;
    private static final long MSG_IOV = 16;
    private static final long MSG_IOVLEN = 24;
    private static final long MSG_CONTROL = 32;
    private static final long MSG_CONTROLLEN = 40;
    private static final long MSG_FLAGS = 48;
    // struct cmsghdr (LP64): size_t len; int level; int type; data
    private static final long CMSG_HDR = 16;

    private static final long ERRNO_OFFSET =
            Linker.Option.captureStateLayout().byteOffset(MemoryLayout.PathElement.groupElement("errno"));

    /** Per-thread scratch native memory: errno capture, socklen, pollfd and small buffers. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Package-private: {@code Native} creates the backend through {@link #create()}. */
    FfmBackend() {
        Linker linker = Linker.nativeLinker();
        MemorySegment getuid = linker.defaultLookup().find("getuid").orElseThrow(
                () -> new UnsupportedOperationException("the FFM backend cannot find getuid in the C library"));
        try {
            // A restricted method: throws IllegalCallerException when native access is denied
            // (--illegal-native-access=deny, or a module not granted native access).
            linker.downcallHandle(getuid, FunctionDescriptor.of(JAVA_INT));
        } catch (IllegalCallerException e) {
            throw new IllegalCallerException(nativeAccessMessage(), e);
        }
        try {
            Libc.init();
        } catch (ExceptionInInitializerError e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            if (cause instanceof IllegalCallerException) {
                throw new IllegalCallerException(nativeAccessMessage(), cause);
            }
            throw new UnsupportedOperationException("the FFM backend cannot bind the C library: " + cause, cause);
        } catch (NoClassDefFoundError e) {
            throw new UnsupportedOperationException("the FFM backend cannot bind the C library "
                    + "(an earlier attempt failed): " + e.getMessage(), e);
        }
    }

    /** The factory {@code Native} looks up by name. */
    static NativeBackend create() {
        return new FfmBackend();
    }

    /**
     * How to grant native access, naming the flag for where this class runs: its module
     * ({@code dev.reuseport.sys}) on the module path, {@code ALL-UNNAMED} on the class path. On the module
     * path jnr's JNI stub loads from jffi's own module, which a JVM that denies native access must grant too.
     */
    private static String nativeAccessMessage() {
        Module module = FfmBackend.class.getModule();
        String who = module.isNamed() ? module.getName() : "ALL-UNNAMED";
        return "the FFM backend needs native access, which this JVM denies: start java with "
                + "--enable-native-access=" + who
                + (module.isNamed() ? "" : " (or add 'Enable-Native-Access: ALL-UNNAMED' to the manifest of an"
                        + " executable JAR)")
                + ", or force the jnr backend with -Dreuseport.backend=jnr"
                + (module.isNamed() ? " (and --enable-native-access=org.jnrproject.jffi)" : "");
    }

    @Override
    public String name() {
        return "ffm";
    }

    // ---- plumbing -----------------------------------------------------------------------------

    private static final class Scratch {
        final MemorySegment state;  // errno capture
        final MemorySegment len;    // socklen_t / u32 in-out
        final MemorySegment pollfd; // struct pollfd
        final MemorySegment addr;   // sockaddr (128)
        final MemorySegment a;      // option value / key / cpu mask (256)
        final MemorySegment b;      // value (256)

        Scratch() {
            long stateSize = Math.max(16, Linker.Option.captureStateLayout().byteSize());
            stateSize = (stateSize + 15) & ~15L;
            MemorySegment all = Arena.ofAuto().allocate(stateSize + 16 + SOCKADDR_MAX + 256 + 256, 16);
            long off = 0;
            state = all.asSlice(off, stateSize);
            off += stateSize;
            len = all.asSlice(off, 8);
            pollfd = all.asSlice(off + 8, 8);
            off += 16;
            addr = all.asSlice(off, SOCKADDR_MAX);
            off += SOCKADDR_MAX;
            a = all.asSlice(off, 256);
            off += 256;
            b = all.asSlice(off, 256);
        }
    }

    private static Scratch scratch() {
        return SCRATCH.get();
    }

    /** -errno from a capture segment; -EIO if the call failed without setting errno. */
    private static int err(MemorySegment state) {
        int e = state.get(JAVA_INT, ERRNO_OFFSET);
        return e > 0 ? -e : -EIO;
    }

    private static RuntimeException unchecked(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("native call failed: " + t, t);
    }

    private static MemorySegment ptr(long address) {
        return address == 0 ? MemorySegment.NULL : MemorySegment.ofAddress(address);
    }

    private static long align8(long n) {
        return (n + 7) & ~7L;
    }

    private static boolean badRange(byte[] array, int off, int len) {
        return array == null || off < 0 || len < 0 || len > array.length - off;
    }

    // ---- libc ---------------------------------------------------------------------------------

    /** libc downcall handles, created when the backend is (after the native-access check). */
    private static final class Libc {
        private static final Linker LINKER = Linker.nativeLinker();
        private static final SymbolLookup LIBC = LINKER.defaultLookup();
        private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
        /** Whether critical(false) may be combined with captureCallState on this JDK. */
        private static final boolean CRITICAL_OK = criticalWithCaptureAllowed();

        static final MethodHandle SOCKET = capture("socket", false, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
        static final MethodHandle SETSOCKOPT =
                capture("setsockopt", true, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle GETSOCKOPT =
                capture("getsockopt", true, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle BIND = capture("bind", false, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle CONNECT = capture("connect", false, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle LISTEN = capture("listen", false, JAVA_INT, JAVA_INT, JAVA_INT);
        static final MethodHandle ACCEPT4 = capture("accept4", false, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT);
        static final MethodHandle GETSOCKNAME = capture("getsockname", true, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle GETPEERNAME = capture("getpeername", true, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle SHUTDOWN = capture("shutdown", false, JAVA_INT, JAVA_INT, JAVA_INT);
        static final MethodHandle CLOSE = capture("close", false, JAVA_INT, JAVA_INT);
        static final MethodHandle FCNTL = LINKER.downcallHandle(find("fcntl"),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
                ERRNO, Linker.Option.firstVariadicArg(2));
        static final MethodHandle READ = capture("read", false, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
        static final MethodHandle WRITE = capture("write", false, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
        static final MethodHandle RECVFROM =
                capture("recvfrom", false, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle SENDTO =
                capture("sendto", false, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle SENDMSG = capture("sendmsg", false, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle RECVMSG = capture("recvmsg", false, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle POLL = capture("poll", false, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
        static final MethodHandle UNAME = capture("uname", false, JAVA_INT, ADDRESS);
        static final MethodHandle GETUID = plain("getuid", true, FunctionDescriptor.of(JAVA_INT));
        static final MethodHandle SYSCALL3 = LINKER.downcallHandle(find("syscall"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT),
                ERRNO, Linker.Option.firstVariadicArg(1));
        static final MethodHandle SCHED_GETCPU = capture("sched_getcpu", true, JAVA_INT);
        static final MethodHandle SCHED_SETAFFINITY =
                capture("sched_setaffinity", false, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS);
        static final MethodHandle MALLOC = plain("malloc", false, FunctionDescriptor.of(ADDRESS, JAVA_LONG));
        static final MethodHandle FREE = plain("free", false, FunctionDescriptor.ofVoid(ADDRESS));

        private Libc() {
        }

        static void init() {
            // class initialization does the work
        }

        private static MemorySegment find(String name) {
            return LIBC.find(name).orElseThrow(
                    () -> new UnsupportedOperationException("symbol " + name + " not found in the C library"));
        }

        private static boolean criticalWithCaptureAllowed() {
            try {
                LINKER.downcallHandle(find("getuid"), FunctionDescriptor.of(JAVA_INT),
                        ERRNO, Linker.Option.critical(false));
                return true;
            } catch (IllegalArgumentException e) {
                return false;
            }
        }

        /** An errno-capturing handle; {@code critical} only for short calls that never block. */
        private static MethodHandle capture(String name, boolean critical, MemoryLayout ret, MemoryLayout... args) {
            FunctionDescriptor fd = FunctionDescriptor.of(ret, args);
            return critical && CRITICAL_OK
                    ? LINKER.downcallHandle(find(name), fd, ERRNO, Linker.Option.critical(false))
                    : LINKER.downcallHandle(find(name), fd, ERRNO);
        }

        private static MethodHandle plain(String name, boolean critical, FunctionDescriptor fd) {
            return critical
                    ? LINKER.downcallHandle(find(name), fd, Linker.Option.critical(false))
                    : LINKER.downcallHandle(find(name), fd);
        }
    }

    // ---- memory -------------------------------------------------------------------------------

    @Override
    public long malloc(long size) {
        try {
            return ((MemorySegment) Libc.MALLOC.invokeExact(size)).address();
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public void free(long address) {
        if (address == 0) {
            return;
        }
        try {
            Libc.FREE.invokeExact(MemorySegment.ofAddress(address));
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public void copyToNative(byte[] src, int off, long address, int len) {
        if (len <= 0) {
            return;
        }
        MemorySegment.copy(src, off, MemorySegment.ofAddress(address).reinterpret(len), JAVA_BYTE, 0, len);
    }

    @Override
    public void copyFromNative(long address, byte[] dst, int off, int len) {
        if (len <= 0) {
            return;
        }
        MemorySegment.copy(MemorySegment.ofAddress(address).reinterpret(len), JAVA_BYTE, 0, dst, off, len);
    }

    @Override
    public long directBufferAddress(ByteBuffer direct) {
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("not a direct buffer: " + direct);
        }
        // ofBuffer starts at the buffer's position; element 0 is position bytes before it.
        return MemorySegment.ofBuffer(direct).address() - direct.position();
    }

    // ---- sockets ------------------------------------------------------------------------------

    @Override
    public int socket(int domain, int type, int protocol) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.SOCKET.invokeExact(s.state, domain, type, protocol);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int setsockopt(int fd, int level, int option, byte[] value, int len) {
        if (badRange(value, 0, len)) {
            return -EINVAL;
        }
        Scratch s = scratch();
        if (len > s.a.byteSize()) {
            return setsockoptLarge(s, fd, level, option, value, len);
        }
        try {
            MemorySegment.copy(value, 0, s.a, JAVA_BYTE, 0, len);
            int r = (int) Libc.SETSOCKOPT.invokeExact(s.state, fd, level, option, s.a, len);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int setsockoptLarge(Scratch s, int fd, int level, int option, byte[] value, int len) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(len, 8);
            MemorySegment.copy(value, 0, v, JAVA_BYTE, 0, len);
            int r = (int) Libc.SETSOCKOPT.invokeExact(s.state, fd, level, option, v, len);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int getsockopt(int fd, int level, int option, byte[] value) {
        Scratch s = scratch();
        int n = value.length;
        try (Arena arena = n > s.a.byteSize() ? Arena.ofConfined() : null) {
            MemorySegment v = arena == null ? s.a : arena.allocate(n, 8);
            MemorySegment.copy(value, 0, v, JAVA_BYTE, 0, n); // in-out for some options
            s.len.set(JAVA_INT, 0, n);
            int r = (int) Libc.GETSOCKOPT.invokeExact(s.state, fd, level, option, v, s.len);
            if (r < 0) {
                return err(s.state);
            }
            int got = s.len.get(JAVA_INT, 0);
            MemorySegment.copy(v, JAVA_BYTE, 0, value, 0, Math.min(Math.max(got, 0), n));
            return got;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bind(int fd, byte[] sockaddr, int len) {
        if (badRange(sockaddr, 0, len) || len > SOCKADDR_MAX) {
            return -EINVAL;
        }
        Scratch s = scratch();
        try {
            MemorySegment.copy(sockaddr, 0, s.addr, JAVA_BYTE, 0, len);
            int r = (int) Libc.BIND.invokeExact(s.state, fd, s.addr, len);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int connect(int fd, byte[] sockaddr, int len) {
        if (badRange(sockaddr, 0, len) || len > SOCKADDR_MAX) {
            return -EINVAL;
        }
        Scratch s = scratch();
        try {
            MemorySegment.copy(sockaddr, 0, s.addr, JAVA_BYTE, 0, len);
            int r = (int) Libc.CONNECT.invokeExact(s.state, fd, s.addr, len);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int listen(int fd, int backlog) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.LISTEN.invokeExact(s.state, fd, backlog);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int accept4(int fd, byte[] peerOut, int flags) {
        Scratch s = scratch();
        try {
            int r;
            if (peerOut == null) {
                r = (int) Libc.ACCEPT4.invokeExact(s.state, fd, MemorySegment.NULL, MemorySegment.NULL, flags);
            } else {
                s.len.set(JAVA_INT, 0, SOCKADDR_MAX);
                r = (int) Libc.ACCEPT4.invokeExact(s.state, fd, s.addr, s.len, flags);
            }
            if (r < 0) {
                return err(s.state);
            }
            if (peerOut != null) {
                copyAddrOut(s, peerOut);
            }
            return r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    /** Copies the sockaddr the kernel wrote into the scratch ({@code s.len} bytes) to {@code out}. */
    private static int copyAddrOut(Scratch s, byte[] out) {
        int got = s.len.get(JAVA_INT, 0);
        int n = Math.min(Math.min(Math.max(got, 0), SOCKADDR_MAX), out.length);
        MemorySegment.copy(s.addr, JAVA_BYTE, 0, out, 0, n);
        return got;
    }

    @Override
    public int getsockname(int fd, byte[] out) {
        Scratch s = scratch();
        try {
            s.len.set(JAVA_INT, 0, SOCKADDR_MAX);
            int r = (int) Libc.GETSOCKNAME.invokeExact(s.state, fd, s.addr, s.len);
            return r < 0 ? err(s.state) : copyAddrOut(s, out);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int getpeername(int fd, byte[] out) {
        Scratch s = scratch();
        try {
            s.len.set(JAVA_INT, 0, SOCKADDR_MAX);
            int r = (int) Libc.GETPEERNAME.invokeExact(s.state, fd, s.addr, s.len);
            return r < 0 ? err(s.state) : copyAddrOut(s, out);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int shutdown(int fd, int how) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.SHUTDOWN.invokeExact(s.state, fd, how);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int close(int fd) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.CLOSE.invokeExact(s.state, fd);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int dupCloexec(int fd) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.FCNTL.invokeExact(s.state, fd, F_DUPFD_CLOEXEC, 0);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int fileStatusFlags(int fd) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.FCNTL.invokeExact(s.state, fd, 3 /* F_GETFL */, 0);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int read(int fd, long address, int len) {
        Scratch s = scratch();
        try {
            long r = (long) Libc.READ.invokeExact(s.state, fd, MemorySegment.ofAddress(address), (long) len);
            return r < 0 ? err(s.state) : (int) r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int write(int fd, long address, int len) {
        Scratch s = scratch();
        try {
            long r = (long) Libc.WRITE.invokeExact(s.state, fd, MemorySegment.ofAddress(address), (long) len);
            return r < 0 ? err(s.state) : (int) r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int recvfrom(int fd, long address, int len, int flags, byte[] peerOut) {
        Scratch s = scratch();
        try {
            long r;
            if (peerOut == null) {
                r = (long) Libc.RECVFROM.invokeExact(s.state, fd, MemorySegment.ofAddress(address), (long) len, flags,
                        MemorySegment.NULL, MemorySegment.NULL);
            } else {
                s.len.set(JAVA_INT, 0, SOCKADDR_MAX);
                r = (long) Libc.RECVFROM.invokeExact(s.state, fd, MemorySegment.ofAddress(address), (long) len, flags,
                        s.addr, s.len);
            }
            if (r < 0) {
                return err(s.state);
            }
            if (peerOut != null) {
                copyAddrOut(s, peerOut);
            }
            return (int) r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int sendto(int fd, long address, int len, int flags, byte[] sockaddr, int addrLen) {
        Scratch s = scratch();
        try {
            long r;
            if (sockaddr == null) {
                r = (long) Libc.SENDTO.invokeExact(s.state, fd, MemorySegment.ofAddress(address), (long) len, flags,
                        MemorySegment.NULL, 0);
            } else {
                if (badRange(sockaddr, 0, addrLen) || addrLen > SOCKADDR_MAX) {
                    return -EINVAL;
                }
                MemorySegment.copy(sockaddr, 0, s.addr, JAVA_BYTE, 0, addrLen);
                r = (long) Libc.SENDTO.invokeExact(s.state, fd, MemorySegment.ofAddress(address), (long) len, flags,
                        s.addr, addrLen);
            }
            return r < 0 ? err(s.state) : (int) r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int sendmsgFds(int fd, byte[] data, int len, int[] fds, int nfds) {
        if (badRange(data, 0, len) || nfds < 0 || (nfds > 0 && (fds == null || nfds > fds.length))) {
            return -EINVAL;
        }
        Scratch s = scratch();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Math.max(len, 1), 8);
            MemorySegment.copy(data, 0, buf, JAVA_BYTE, 0, len);
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ADDRESS, 0, buf);
            iov.set(JAVA_LONG, 8, len);
            MemorySegment msg = arena.allocate(MSGHDR_SIZE, 8);
            msg.set(ADDRESS, MSG_NAME, MemorySegment.NULL);
            msg.set(JAVA_INT, MSG_NAMELEN, 0);
            msg.set(ADDRESS, MSG_IOV, iov);
            msg.set(JAVA_LONG, MSG_IOVLEN, 1L);
            if (nfds > 0) {
                long space = CMSG_HDR + align8(4L * nfds);
                MemorySegment ctl = arena.allocate(space, 8);
                ctl.set(JAVA_LONG, 0, CMSG_HDR + 4L * nfds); // CMSG_LEN
                ctl.set(JAVA_INT, 8, SOL_SOCKET);
                ctl.set(JAVA_INT, 12, SCM_RIGHTS);
                for (int i = 0; i < nfds; i++) {
                    ctl.set(JAVA_INT, CMSG_HDR + 4L * i, fds[i]);
                }
                msg.set(ADDRESS, MSG_CONTROL, ctl);
                msg.set(JAVA_LONG, MSG_CONTROLLEN, space);
            } else {
                msg.set(ADDRESS, MSG_CONTROL, MemorySegment.NULL);
                msg.set(JAVA_LONG, MSG_CONTROLLEN, 0L);
            }
            msg.set(JAVA_INT, MSG_FLAGS, 0);
            long r = (long) Libc.SENDMSG.invokeExact(s.state, fd, msg, MSG_NOSIGNAL);
            return r < 0 ? err(s.state) : (int) r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int recvmsgFds(int fd, byte[] data, int[] fdsOut) {
        int cap = fdsOut == null ? 0 : fdsOut.length;
        if (cap > 0) {
            Arrays.fill(fdsOut, -1);
        }
        Scratch s = scratch();
        try (Arena arena = Arena.ofConfined()) {
            int dlen = data == null ? 0 : data.length;
            MemorySegment buf = arena.allocate(Math.max(dlen, 1), 8);
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ADDRESS, 0, buf);
            iov.set(JAVA_LONG, 8, dlen);
            MemorySegment msg = arena.allocate(MSGHDR_SIZE, 8);
            msg.set(ADDRESS, MSG_NAME, MemorySegment.NULL);
            msg.set(JAVA_INT, MSG_NAMELEN, 0);
            msg.set(ADDRESS, MSG_IOV, iov);
            msg.set(JAVA_LONG, MSG_IOVLEN, 1L);
            MemorySegment ctl = MemorySegment.NULL;
            long space = 0;
            if (cap > 0) {
                space = CMSG_HDR + align8(4L * cap);
                ctl = arena.allocate(space, 8);
            }
            msg.set(ADDRESS, MSG_CONTROL, ctl);
            msg.set(JAVA_LONG, MSG_CONTROLLEN, space);
            msg.set(JAVA_INT, MSG_FLAGS, 0);
            long r = (long) Libc.RECVMSG.invokeExact(s.state, fd, msg, MSG_CMSG_CLOEXEC);
            if (r < 0) {
                return err(s.state);
            }
            int mflags = msg.get(JAVA_INT, MSG_FLAGS);
            long ctlLen = Math.min(msg.get(JAVA_LONG, MSG_CONTROLLEN), space);
            int count = 0;
            boolean overflow = false;
            long off = 0;
            while (off + CMSG_HDR <= ctlLen) {
                long clen = ctl.get(JAVA_LONG, off);
                if (clen < CMSG_HDR || clen > ctlLen - off) {
                    break;
                }
                if (ctl.get(JAVA_INT, off + 8) == SOL_SOCKET && ctl.get(JAVA_INT, off + 12) == SCM_RIGHTS) {
                    int k = (int) ((clen - CMSG_HDR) / 4);
                    for (int i = 0; i < k; i++) {
                        int got = ctl.get(JAVA_INT, off + CMSG_HDR + 4L * i);
                        if (count < cap) {
                            fdsOut[count++] = got;
                        } else {
                            closeQuietly(s, got);
                            overflow = true;
                        }
                    }
                }
                off += align8(clen);
            }
            if ((mflags & MSG_CTRUNC) != 0 || overflow) {
                for (int i = 0; i < count; i++) {
                    closeQuietly(s, fdsOut[i]);
                    fdsOut[i] = -1;
                }
                return -EMSGSIZE;
            }
            int n = (int) r;
            if (n > 0) {
                MemorySegment.copy(buf, JAVA_BYTE, 0, data, 0, Math.min(n, dlen));
            }
            return n;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static void closeQuietly(Scratch s, int fd) throws Throwable {
        int ignored = (int) Libc.CLOSE.invokeExact(s.state, fd);
    }

    @Override
    public int poll(int fd, int events, int timeoutMillis) {
        Scratch s = scratch();
        MemorySegment p = s.pollfd;
        try {
            p.set(JAVA_INT, 0, fd);
            p.set(JAVA_SHORT, 4, (short) events);
            p.set(JAVA_SHORT, 6, (short) 0);
            int r = (int) Libc.POLL.invokeExact(s.state, p, 1L, timeoutMillis);
            if (r < 0) {
                return err(s.state);
            }
            return r == 0 ? 0 : p.get(JAVA_SHORT, 6) & 0xffff;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    // ---- process ------------------------------------------------------------------------------

    @Override
    public int membarrier(int cmd) {
        Scratch s = scratch();
        try {
            long r = (long) Libc.SYSCALL3.invokeExact(s.state, (long) Sys.SYS_MEMBARRIER, cmd, 0, 0);
            return r < 0 ? err(s.state) : (int) r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int uname(byte[] out) {
        Scratch s = scratch();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment u = arena.allocate(UTSNAME_LEN, 8);
            int r = (int) Libc.UNAME.invokeExact(s.state, u);
            if (r < 0) {
                return err(s.state);
            }
            MemorySegment.copy(u, JAVA_BYTE, 0, out, 0, Math.min(UTSNAME_LEN, out.length));
            return r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int getuid() {
        try {
            return (int) Libc.GETUID.invokeExact();
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int schedGetcpu() {
        Scratch s = scratch();
        try {
            int r = (int) Libc.SCHED_GETCPU.invokeExact(s.state);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int pinToCpu(int cpu) {
        if (cpu < 0 || cpu >= CPU_SET_BYTES * 8) {
            return -EINVAL;
        }
        Scratch s = scratch();
        MemorySegment mask = s.a;
        try {
            mask.fill((byte) 0);
            mask.set(JAVA_LONG, (cpu / 64) * 8L, 1L << (cpu % 64));
            int r = (int) Libc.SCHED_SETAFFINITY.invokeExact(s.state, 0, (long) CPU_SET_BYTES, mask);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    // ---- libbpf -------------------------------------------------------------------------------

    /** libbpf handles, bound on first use; all null (and REASON set) when libbpf cannot be used. */
    private static final class Bpf {
        static final String REASON;
        static final MethodHandle MAJOR;
        static final MethodHandle MINOR;
        static final MethodHandle SET_PRINT;
        static final MethodHandle NUM_POSSIBLE_CPUS;
        static final MethodHandle OBJECT_OPEN_MEM;
        static final MethodHandle OBJECT_LOAD;
        static final MethodHandle OBJECT_CLOSE;
        static final MethodHandle FIND_PROGRAM;
        static final MethodHandle FIND_MAP;
        static final MethodHandle PROGRAM_FD;
        static final MethodHandle PROGRAM_SET_ATTACH_TYPE;
        static final MethodHandle PROGRAM_SET_AUTOLOAD;
        static final MethodHandle PROGRAM_SET_LOG_BUF;
        static final MethodHandle PROGRAM_SET_LOG_LEVEL;
        static final MethodHandle MAP_FD;
        static final MethodHandle MAP_CREATE;
        static final MethodHandle MAP_UPDATE;
        static final MethodHandle MAP_LOOKUP;
        static final MethodHandle MAP_DELETE;
        static final MethodHandle MAP_FREEZE;
        static final MethodHandle MAP_NEXT_KEY;
        static final MethodHandle OBJ_GET_INFO;
        static final MethodHandle PROBE_PROG;
        static final MethodHandle PROBE_MAP;
        static final MethodHandle PROBE_HELPER;

        static {
            String path = System.getProperty("reuseport.libbpf", "libbpf.so.1");
            String reason = null;
            SymbolLookup lib = null;
            try {
                lib = SymbolLookup.libraryLookup(path, Arena.global());
            } catch (RuntimeException | LinkageError e) {
                reason = "cannot load libbpf from '" + path + "' (set -Dreuseport.libbpf=/path/to/libbpf.so.1): "
                        + e;
            }
            Binder b = new Binder(lib);
            Linker.Option errno = Linker.Option.captureCallState("errno");
            MAJOR = b.bind("libbpf_major_version", FunctionDescriptor.of(JAVA_INT));
            MINOR = b.bind("libbpf_minor_version", FunctionDescriptor.of(JAVA_INT));
            SET_PRINT = b.bind("libbpf_set_print", FunctionDescriptor.of(ADDRESS, ADDRESS));
            NUM_POSSIBLE_CPUS = b.bind("libbpf_num_possible_cpus", FunctionDescriptor.of(JAVA_INT));
            OBJECT_OPEN_MEM = b.bind("bpf_object__open_mem",
                    FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, ADDRESS), errno);
            OBJECT_LOAD = b.bind("bpf_object__load", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            OBJECT_CLOSE = b.bind("bpf_object__close", FunctionDescriptor.ofVoid(ADDRESS));
            FIND_PROGRAM = b.bind("bpf_object__find_program_by_name",
                    FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS), errno);
            FIND_MAP = b.bind("bpf_object__find_map_by_name",
                    FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS), errno);
            PROGRAM_FD = b.bind("bpf_program__fd", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            PROGRAM_SET_ATTACH_TYPE = b.bind("bpf_program__set_expected_attach_type",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
            PROGRAM_SET_AUTOLOAD = b.bind("bpf_program__set_autoload",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_BOOLEAN));
            PROGRAM_SET_LOG_BUF = b.bind("bpf_program__set_log_buf",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
            PROGRAM_SET_LOG_LEVEL = b.bind("bpf_program__set_log_level",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
            MAP_FD = b.bind("bpf_map__fd", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            MAP_CREATE = b.bind("bpf_map_create",
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
            MAP_UPDATE = b.bind("bpf_map_update_elem",
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
            MAP_LOOKUP = b.bind("bpf_map_lookup_elem", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
            MAP_DELETE = b.bind("bpf_map_delete_elem", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
            MAP_FREEZE = b.bind("bpf_map_freeze", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            MAP_NEXT_KEY = b.bind("bpf_map_get_next_key", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
            OBJ_GET_INFO = b.bind("bpf_obj_get_info_by_fd",
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
            PROBE_PROG = b.bind("libbpf_probe_bpf_prog_type", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
            PROBE_MAP = b.bind("libbpf_probe_bpf_map_type", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
            PROBE_HELPER = b.bind("libbpf_probe_bpf_helper",
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
            if (reason == null && !b.problems.isEmpty()) {
                reason = "libbpf at '" + path + "' cannot be used (libbpf 1.0 or later is required): "
                        + String.join("; ", b.problems);
            }
            REASON = reason;
        }

        private Bpf() {
        }

        /** Binds symbols of one library, recording what is missing instead of throwing. */
        private static final class Binder {
            final SymbolLookup lib;
            final List<String> problems = new ArrayList<>();

            Binder(SymbolLookup lib) {
                this.lib = lib;
            }

            MethodHandle bind(String name, FunctionDescriptor fd, Linker.Option... options) {
                if (lib == null) {
                    return null;
                }
                try {
                    Optional<MemorySegment> symbol = lib.find(name);
                    if (symbol.isEmpty()) {
                        problems.add("no symbol " + name);
                        return null;
                    }
                    return Linker.nativeLinker().downcallHandle(symbol.get(), fd, options);
                } catch (RuntimeException e) {
                    problems.add(name + ": " + e);
                    return null;
                }
            }
        }
    }

    /** A pointer result: the address, or -errno (-ENOENT without errno) for NULL or an ERR_PTR. */
    private static long pointerResult(MemorySegment result, MemorySegment state) {
        long a = result.address();
        if (a == 0) {
            int e = state.get(JAVA_INT, ERRNO_OFFSET);
            return e > 0 ? -e : -ENOENT;
        }
        return a; // an ERR_PTR (from a pre-1.0 libbpf) is already -errno
    }

    @Override
    public String libbpfUnavailableReason() {
        return Bpf.REASON;
    }

    @Override
    public int libbpfVersion() {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        try {
            int major = (int) Bpf.MAJOR.invokeExact();
            int minor = (int) Bpf.MINOR.invokeExact();
            return (major << 16) | (minor & 0xffff);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public void libbpfSilence() {
        if (Bpf.REASON != null) {
            return;
        }
        try {
            MemorySegment ignored = (MemorySegment) Bpf.SET_PRINT.invokeExact(MemorySegment.NULL);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int libbpfNumPossibleCpus() {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        try {
            return (int) Bpf.NUM_POSSIBLE_CPUS.invokeExact();
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public long bpfObjectOpenMem(long buf, long size) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        if (buf == 0) {
            return -EINVAL;
        }
        Scratch s = scratch();
        try {
            MemorySegment r = (MemorySegment) Bpf.OBJECT_OPEN_MEM.invokeExact(s.state, MemorySegment.ofAddress(buf),
                    size, MemorySegment.NULL);
            return pointerResult(r, s.state);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bpfObjectLoad(long obj) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        if (obj == 0) {
            return -EINVAL;
        }
        try {
            return (int) Bpf.OBJECT_LOAD.invokeExact(MemorySegment.ofAddress(obj));
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public void bpfObjectClose(long obj) {
        if (Bpf.REASON != null || obj == 0) {
            return;
        }
        try {
            Bpf.OBJECT_CLOSE.invokeExact(MemorySegment.ofAddress(obj));
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public long bpfObjectFindProgramByName(long obj, String name) {
        return findByName(Bpf.FIND_PROGRAM, obj, name);
    }

    @Override
    public long bpfObjectFindMapByName(long obj, String name) {
        return findByName(Bpf.FIND_MAP, obj, name);
    }

    private static long findByName(MethodHandle find, long obj, String name) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        if (obj == 0 || name == null) {
            return -EINVAL;
        }
        Scratch s = scratch();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment r = (MemorySegment) find.invokeExact(s.state, MemorySegment.ofAddress(obj),
                    arena.allocateFrom(name));
            return pointerResult(r, s.state);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bpfProgramFd(long prog) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        if (prog == 0) {
            return -EINVAL;
        }
        try {
            return (int) Bpf.PROGRAM_FD.invokeExact(MemorySegment.ofAddress(prog));
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bpfProgramSetExpectedAttachType(long prog, int attachType) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        if (prog == 0) {
            return -EINVAL;
        }
        try {
            return (int) Bpf.PROGRAM_SET_ATTACH_TYPE.invokeExact(MemorySegment.ofAddress(prog), attachType);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bpfProgramSetAutoload(long prog, boolean autoload) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        if (prog == 0) {
            return -EINVAL;
        }
        try {
            return (int) Bpf.PROGRAM_SET_AUTOLOAD.invokeExact(MemorySegment.ofAddress(prog), autoload);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bpfProgramSetLogBuf(long prog, long buf, long size) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        if (prog == 0) {
            return -EINVAL;
        }
        try {
            return (int) Bpf.PROGRAM_SET_LOG_BUF.invokeExact(MemorySegment.ofAddress(prog), ptr(buf), size);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bpfProgramSetLogLevel(long prog, int level) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        if (prog == 0) {
            return -EINVAL;
        }
        try {
            return (int) Bpf.PROGRAM_SET_LOG_LEVEL.invokeExact(MemorySegment.ofAddress(prog), level);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bpfMapFreeze(int fd) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        try {
            return (int) Bpf.MAP_FREEZE.invokeExact(fd);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bpfMapFd(long map) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        if (map == 0) {
            return -EINVAL;
        }
        try {
            return (int) Bpf.MAP_FD.invokeExact(MemorySegment.ofAddress(map));
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bpfMapCreate(int mapType, String name, int keySize, int valueSize, int maxEntries) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cname = name == null ? MemorySegment.NULL : arena.allocateFrom(name);
            return (int) Bpf.MAP_CREATE.invokeExact(mapType, cname, keySize, valueSize, maxEntries,
                    MemorySegment.NULL);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    /** Native memory for {@code n} bytes: the scratch slot when it fits, else from {@code arena}. */
    private static MemorySegment room(MemorySegment slot, long n, Arena arena) {
        return n <= slot.byteSize() ? slot : arena.allocate(Math.max(n, 1), 8);
    }

    @Override
    public int bpfMapUpdateElem(int fd, byte[] key, byte[] value, long flags) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        Scratch s = scratch();
        boolean big = key.length > s.a.byteSize() || value.length > s.b.byteSize();
        try (Arena arena = big ? Arena.ofConfined() : null) {
            MemorySegment k = room(s.a, key.length, arena);
            MemorySegment v = room(s.b, value.length, arena);
            MemorySegment.copy(key, 0, k, JAVA_BYTE, 0, key.length);
            MemorySegment.copy(value, 0, v, JAVA_BYTE, 0, value.length);
            return (int) Bpf.MAP_UPDATE.invokeExact(fd, k, v, flags);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bpfMapLookupElem(int fd, byte[] key, byte[] valueOut) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        Scratch s = scratch();
        boolean big = key.length > s.a.byteSize() || valueOut.length > s.b.byteSize();
        try (Arena arena = big ? Arena.ofConfined() : null) {
            MemorySegment k = room(s.a, key.length, arena);
            MemorySegment v = room(s.b, valueOut.length, arena);
            MemorySegment.copy(key, 0, k, JAVA_BYTE, 0, key.length);
            int r = (int) Bpf.MAP_LOOKUP.invokeExact(fd, k, v);
            if (r == 0) {
                MemorySegment.copy(v, JAVA_BYTE, 0, valueOut, 0, valueOut.length);
            }
            return r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bpfMapDeleteElem(int fd, byte[] key) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        Scratch s = scratch();
        try (Arena arena = key.length > s.a.byteSize() ? Arena.ofConfined() : null) {
            MemorySegment k = room(s.a, key.length, arena);
            MemorySegment.copy(key, 0, k, JAVA_BYTE, 0, key.length);
            return (int) Bpf.MAP_DELETE.invokeExact(fd, k);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bpfMapGetNextKey(int fd, byte[] key, byte[] nextOut) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        Scratch s = scratch();
        boolean big = (key != null && key.length > s.a.byteSize()) || nextOut.length > s.b.byteSize();
        try (Arena arena = big ? Arena.ofConfined() : null) {
            MemorySegment k = MemorySegment.NULL;
            if (key != null) {
                k = room(s.a, key.length, arena);
                MemorySegment.copy(key, 0, k, JAVA_BYTE, 0, key.length);
            }
            MemorySegment next = room(s.b, nextOut.length, arena);
            int r = (int) Bpf.MAP_NEXT_KEY.invokeExact(fd, k, next);
            if (r == 0) {
                MemorySegment.copy(next, JAVA_BYTE, 0, nextOut, 0, nextOut.length);
            }
            return r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int bpfObjGetInfoByFd(int fd, byte[] info) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        Scratch s = scratch();
        try (Arena arena = Arena.ofConfined()) {
            // The kernel reads the whole info struct (pointer fields in it request extra data), so copy it in.
            MemorySegment buf = arena.allocate(Math.max(info.length, 1), 8);
            MemorySegment.copy(info, 0, buf, JAVA_BYTE, 0, info.length);
            s.len.set(JAVA_INT, 0, info.length);
            int r = (int) Bpf.OBJ_GET_INFO.invokeExact(fd, buf, s.len);
            if (r < 0) {
                return r;
            }
            int got = s.len.get(JAVA_INT, 0);
            MemorySegment.copy(buf, JAVA_BYTE, 0, info, 0, Math.min(Math.max(got, 0), info.length));
            return got;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int libbpfProbeProgType(int progType) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        try {
            return (int) Bpf.PROBE_PROG.invokeExact(progType, MemorySegment.NULL);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int libbpfProbeMapType(int mapType) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        try {
            return (int) Bpf.PROBE_MAP.invokeExact(mapType, MemorySegment.NULL);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int libbpfProbeHelper(int progType, int helperId) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        try {
            return (int) Bpf.PROBE_HELPER.invokeExact(progType, helperId, MemorySegment.NULL);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    // --- recvmmsg/sendmmsg/GRO/GSO: ingest ---

    /**
     * Downcall handles for the ingest calls, bound on first use. Pointers travel as {@code JAVA_LONG}
     * (the same register on LP64): no MemorySegment is made per call, so a call allocates nothing even
     * before the JIT's escape analysis has run.
     */
    private static final class Ingest {
        static final MethodHandle RECVMMSG = Libc.capture("recvmmsg", false,
                JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG);
        static final MethodHandle SENDMMSG = Libc.capture("sendmmsg", false,
                JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT);
        static final MethodHandle RECVMSG = Libc.capture("recvmsg", false, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT);
        static final MethodHandle SENDMSG = Libc.capture("sendmsg", false, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT);
        static final MethodHandle SCHED_GETAFFINITY =
                Libc.capture("sched_getaffinity", false, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS);

        private Ingest() {
        }
    }

    @Override
    public int recvmmsg(int fd, long msgvec, int vlen, int flags) {
        Scratch s = scratch();
        try {
            int r = (int) Ingest.RECVMMSG.invokeExact(s.state, fd, msgvec, vlen, flags, 0L);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int sendmmsg(int fd, long msgvec, int vlen, int flags) {
        Scratch s = scratch();
        try {
            int r = (int) Ingest.SENDMMSG.invokeExact(s.state, fd, msgvec, vlen, flags | MSG_NOSIGNAL);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int recvmsgAt(int fd, long msghdr, int flags) {
        Scratch s = scratch();
        try {
            long r = (long) Ingest.RECVMSG.invokeExact(s.state, fd, msghdr, flags);
            return r < 0 ? err(s.state) : (int) r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int sendmsgAt(int fd, long msghdr, int flags) {
        Scratch s = scratch();
        try {
            long r = (long) Ingest.SENDMSG.invokeExact(s.state, fd, msghdr, flags | MSG_NOSIGNAL);
            return r < 0 ? err(s.state) : (int) r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int schedGetaffinity(byte[] maskOut) {
        Scratch s = scratch();
        MemorySegment mask = s.a;
        try {
            mask.fill((byte) 0);
            int r = (int) Ingest.SCHED_GETAFFINITY.invokeExact(s.state, 0, (long) CPU_SET_BYTES, mask);
            if (r < 0) {
                return err(s.state);
            }
            // glibc returns 0 (not the kernel's mask size) and zero-fills the rest of the set
            int n = Math.min(CPU_SET_BYTES, maskOut.length);
            MemorySegment.copy(mask, JAVA_BYTE, 0, maskOut, 0, n);
            return n;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int schedSetaffinity(byte[] mask) {
        if (mask == null || mask.length > CPU_SET_BYTES) {
            return -EINVAL;
        }
        Scratch s = scratch();
        MemorySegment m = s.a;
        try {
            m.fill((byte) 0);
            MemorySegment.copy(mask, 0, m, JAVA_BYTE, 0, mask.length);
            int r = (int) Libc.SCHED_SETAFFINITY.invokeExact(s.state, 0, (long) CPU_SET_BYTES, m);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    /** bpf_map__set_max_entries, bound from the same libbpf as {@code Bpf} on first use; null when absent. */
    private static final class IngestBpf {
        static final MethodHandle SET_MAX_ENTRIES;

        static {
            MethodHandle h = null;
            if (Bpf.REASON == null) {
                String path = System.getProperty("reuseport.libbpf", "libbpf.so.1");
                try {
                    SymbolLookup lib = SymbolLookup.libraryLookup(path, Arena.global());
                    Optional<MemorySegment> sym = lib.find("bpf_map__set_max_entries");
                    if (sym.isPresent()) {
                        h = Linker.nativeLinker().downcallHandle(sym.get(),
                                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
                    }
                } catch (RuntimeException | LinkageError e) {
                    h = null;
                }
            }
            SET_MAX_ENTRIES = h;
        }

        private IngestBpf() {
        }
    }

    @Override
    public int bpfMapSetMaxEntries(long map, int maxEntries) {
        if (Bpf.REASON != null || IngestBpf.SET_MAX_ENTRIES == null) {
            return -ENOSYS;
        }
        if (map == 0) {
            return -EINVAL;
        }
        try {
            int r = (int) IngestBpf.SET_MAX_ENTRIES.invokeExact(map, maxEntries);
            return r < 0 ? r : 0; // libbpf 1.x returns -errno itself
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    // --- end ingest ---

    // --- epoll: the serving loop ---------------------------------------------------------------------

    /** epoll and eventfd downcall handles, bound on first use. */
    private static final class Epoll {
        static final MethodHandle CREATE1 = Libc.capture("epoll_create1", false, JAVA_INT, JAVA_INT);
        static final MethodHandle CTL = Libc.capture("epoll_ctl", true, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS);
        static final MethodHandle WAIT = Libc.capture("epoll_wait", false, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        static final MethodHandle EVENTFD = Libc.capture("eventfd", false, JAVA_INT, JAVA_INT, JAVA_INT);

        private Epoll() {
        }
    }

    @Override
    public int epollCreate1(int flags) {
        Scratch s = scratch();
        try {
            int r = (int) Epoll.CREATE1.invokeExact(s.state, flags);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int epollCtl(int epfd, int op, int fd, int events, long data) {
        Scratch s = scratch();
        try {
            MemorySegment ev = s.a;
            ev.set(JAVA_INT, 0, events);
            ev.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, Sys.EPOLL_DATA_OFFSET, data);
            int r = (int) Epoll.CTL.invokeExact(s.state, epfd, op, fd, ev);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int epollWait(int epfd, long address, int maxEvents, int timeoutMillis) {
        Scratch s = scratch();
        try {
            int r = (int) Epoll.WAIT.invokeExact(s.state, epfd, ptr(address), maxEvents, timeoutMillis);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int eventfd(int initval, int flags) {
        Scratch s = scratch();
        try {
            int r = (int) Epoll.EVENTFD.invokeExact(s.state, initval, flags);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    // --- end epoll -----------------------------------------------------------------------------------

    // --- systemd: adopting passed descriptors ------------------------------------------------------

    /** unsetenv's downcall handle, bound on first use. */
    private static final class Env {
        static final MethodHandle UNSETENV = Libc.capture("unsetenv", false, JAVA_INT, ADDRESS);

        private Env() {
        }
    }

    @Override
    public int setCloexec(int fd) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.FCNTL.invokeExact(s.state, fd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int setNonBlocking(int fd) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.FCNTL.invokeExact(s.state, fd, 4 /* F_SETFL */, 0x800 /* O_NONBLOCK */);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int unsetenv(String name) {
        Scratch s = scratch();
        try (Arena arena = Arena.ofConfined()) {
            int r = (int) Env.UNSETENV.invokeExact(s.state, arena.allocateFrom(name));
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    // --- end systemd ---------------------------------------------------------------------------------
}
