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
 * What every family of {@link FfmBackend} shares: the Linux constants and struct offsets, the per-thread
 * scratch segments (errno capture, socklen, pollfd, small buffers), the result conventions (-errno, never
 * an exception for a failed call) and the libc downcall handles. The backend and its families
 * ({@link FfmSockets}, {@link FfmBpf}) import it statically.
 */
@SuppressWarnings("restricted")
final class FfmSupport {
    private FfmSupport() {
    }

    // errno values (Linux, x86_64 and aarch64)
    static final int ENOENT = 2;
    static final int EIO = 5;
    static final int EINVAL = 22;
    static final int ENOSYS = 38;
    static final int EMSGSIZE = 90;

    static final int F_DUPFD_CLOEXEC = 1030;
    static final int SOL_SOCKET = 1;
    static final int SCM_RIGHTS = 1;
    static final int MSG_CTRUNC = 0x8;
    static final int MSG_NOSIGNAL = 0x4000;
    static final int MSG_CMSG_CLOEXEC = 0x40000000;
    static final int UTSNAME_LEN = 390;
    static final int CPU_SET_BYTES = 128;
    static final int SOCKADDR_MAX = 128;

    // struct msghdr (LP64)
    static final long MSGHDR_SIZE = 56;
    static final long MSG_NAME = 0;
    static final long MSG_NAMELEN = 8;
    static final long MSG_IOV = 16;
    static final long MSG_IOVLEN = 24;
    static final long MSG_CONTROL = 32;
    static final long MSG_CONTROLLEN = 40;
    static final long MSG_FLAGS = 48;
    // struct cmsghdr (LP64): size_t len; int level; int type; data
    static final long CMSG_HDR = 16;

    static final long ERRNO_OFFSET =
            Linker.Option.captureStateLayout().byteOffset(MemoryLayout.PathElement.groupElement("errno"));

    /** Per-thread scratch native memory: errno capture, socklen, pollfd and small buffers. */
    static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);


    // ---- scratch and results -----------------------------------------------------------------------------

    static final class Scratch {
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

    static Scratch scratch() {
        return SCRATCH.get();
    }

    /** -errno from a capture segment; -EIO if the call failed without setting errno. */
    static int err(MemorySegment state) {
        int e = state.get(JAVA_INT, ERRNO_OFFSET);
        return e > 0 ? -e : -EIO;
    }

    static RuntimeException unchecked(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("native call failed: " + t, t);
    }

    static MemorySegment ptr(long address) {
        return address == 0 ? MemorySegment.NULL : MemorySegment.ofAddress(address);
    }

    static long align8(long n) {
        return (n + 7) & ~7L;
    }

    static boolean badRange(byte[] array, int off, int len) {
        return array == null || off < 0 || len < 0 || len > array.length - off;
    }

    // ---- libc ---------------------------------------------------------------------------------

    /** libc downcall handles, created when the backend is (after the native-access check). */
    static final class Libc {
        static final Linker LINKER = Linker.nativeLinker();
        static final SymbolLookup LIBC = LINKER.defaultLookup();
        static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
        /** Whether critical(false) may be combined with captureCallState on this JDK. */
        static final boolean CRITICAL_OK = criticalWithCaptureAllowed();

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
        static final MethodHandle SCHED_SETSCHEDULER =
                capture("sched_setscheduler", false, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS);
        static final MethodHandle SETPRIORITY = capture("setpriority", true, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
        static final MethodHandle SCHED_SETAFFINITY =
                capture("sched_setaffinity", false, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS);
        static final MethodHandle MALLOC = plain("malloc", false, FunctionDescriptor.of(ADDRESS, JAVA_LONG));
        static final MethodHandle FREE = plain("free", false, FunctionDescriptor.ofVoid(ADDRESS));

        private Libc() {
        }

        static void init() {
            // class initialization does the work
        }

        static MemorySegment find(String name) {
            return LIBC.find(name).orElseThrow(
                    () -> new UnsupportedOperationException("symbol " + name + " not found in the C library"));
        }

        static boolean criticalWithCaptureAllowed() {
            try {
                LINKER.downcallHandle(find("getuid"), FunctionDescriptor.of(JAVA_INT),
                        ERRNO, Linker.Option.critical(false));
                return true;
            } catch (IllegalArgumentException e) {
                return false;
            }
        }

        /** An errno-capturing handle; {@code critical} only for short calls that never block. */
        static MethodHandle capture(String name, boolean critical, MemoryLayout ret, MemoryLayout... args) {
            FunctionDescriptor fd = FunctionDescriptor.of(ret, args);
            return critical && CRITICAL_OK
                    ? LINKER.downcallHandle(find(name), fd, ERRNO, Linker.Option.critical(false))
                    : LINKER.downcallHandle(find(name), fd, ERRNO);
        }

        static MethodHandle plain(String name, boolean critical, FunctionDescriptor fd) {
            return critical
                    ? LINKER.downcallHandle(find(name), fd, Linker.Option.critical(false))
                    : LINKER.downcallHandle(find(name), fd);
        }
    }
}
