package dev.reuseport.sys.internal;

import static dev.reuseport.sys.internal.FfmSupport.*;
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
 *
 * <p>The calls are kept by family: the sockets in {@link FfmSockets}, libbpf in {@link FfmBpf}, and what
 * every family shares (constants, scratch, result conventions, libc handles) in {@link FfmSupport}. This
 * class holds memory, process, ingest, epoll and systemd, and delegates each socket and bpf method in one
 * call.
 */
@SuppressWarnings("restricted")
final class FfmBackend implements NativeBackend {

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

    // ---- sockets: FfmSockets ---------------------------------------------------------------

    @Override
    public int socket(int domain, int type, int protocol) {
        return FfmSockets.socket(domain, type, protocol);
    }

    @Override
    public int setsockopt(int fd, int level, int option, byte[] value, int len) {
        return FfmSockets.setsockopt(fd, level, option, value, len);
    }

    @Override
    public int getsockopt(int fd, int level, int option, byte[] value) {
        return FfmSockets.getsockopt(fd, level, option, value);
    }

    @Override
    public int bind(int fd, byte[] sockaddr, int len) {
        return FfmSockets.bind(fd, sockaddr, len);
    }

    @Override
    public int connect(int fd, byte[] sockaddr, int len) {
        return FfmSockets.connect(fd, sockaddr, len);
    }

    @Override
    public int listen(int fd, int backlog) {
        return FfmSockets.listen(fd, backlog);
    }

    @Override
    public int accept4(int fd, byte[] peerOut, int flags) {
        return FfmSockets.accept4(fd, peerOut, flags);
    }

    @Override
    public int getsockname(int fd, byte[] out) {
        return FfmSockets.getsockname(fd, out);
    }

    @Override
    public int getpeername(int fd, byte[] out) {
        return FfmSockets.getpeername(fd, out);
    }

    @Override
    public int shutdown(int fd, int how) {
        return FfmSockets.shutdown(fd, how);
    }

    @Override
    public int close(int fd) {
        return FfmSockets.close(fd);
    }

    @Override
    public int dupCloexec(int fd) {
        return FfmSockets.dupCloexec(fd);
    }

    @Override
    public int fileStatusFlags(int fd) {
        return FfmSockets.fileStatusFlags(fd);
    }

    @Override
    public int read(int fd, long address, int len) {
        return FfmSockets.read(fd, address, len);
    }

    @Override
    public int write(int fd, long address, int len) {
        return FfmSockets.write(fd, address, len);
    }

    @Override
    public int recvfrom(int fd, long address, int len, int flags, byte[] peerOut) {
        return FfmSockets.recvfrom(fd, address, len, flags, peerOut);
    }

    @Override
    public int sendto(int fd, long address, int len, int flags, byte[] sockaddr, int addrLen) {
        return FfmSockets.sendto(fd, address, len, flags, sockaddr, addrLen);
    }

    @Override
    public int sendmsgFds(int fd, byte[] data, int len, int[] fds, int nfds) {
        return FfmSockets.sendmsgFds(fd, data, len, fds, nfds);
    }

    @Override
    public int recvmsgFds(int fd, byte[] data, int[] fdsOut) {
        return FfmSockets.recvmsgFds(fd, data, fdsOut);
    }

    @Override
    public int poll(int fd, int events, int timeoutMillis) {
        return FfmSockets.poll(fd, events, timeoutMillis);
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
    public int gettid() {
        Scratch s = scratch();
        try {
            return (int) (long) Libc.SYSCALL3.invokeExact(s.state, (long) Sys.SYS_GETTID, 0, 0, 0);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int schedSetscheduler(int tid, int policy, int priority) {
        Scratch s = scratch();
        try {
            s.a.set(JAVA_INT, 0, priority); // struct sched_param
            int r = (int) Libc.SCHED_SETSCHEDULER.invokeExact(s.state, tid, policy, s.a);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    @Override
    public int setpriority(int which, int who, int prio) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.SETPRIORITY.invokeExact(s.state, which, who, prio);
            return r < 0 ? err(s.state) : r;
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

    // ---- libbpf: FfmBpf --------------------------------------------------------------------

    @Override
    public String libbpfUnavailableReason() {
        return FfmBpf.libbpfUnavailableReason();
    }

    @Override
    public int libbpfVersion() {
        return FfmBpf.libbpfVersion();
    }

    @Override
    public void libbpfSilence() {
        FfmBpf.libbpfSilence();
    }

    @Override
    public int libbpfNumPossibleCpus() {
        return FfmBpf.libbpfNumPossibleCpus();
    }

    @Override
    public long bpfObjectOpenMem(long buf, long size) {
        return FfmBpf.bpfObjectOpenMem(buf, size);
    }

    @Override
    public int bpfObjectLoad(long obj) {
        return FfmBpf.bpfObjectLoad(obj);
    }

    @Override
    public void bpfObjectClose(long obj) {
        FfmBpf.bpfObjectClose(obj);
    }

    @Override
    public long bpfObjectFindProgramByName(long obj, String name) {
        return FfmBpf.bpfObjectFindProgramByName(obj, name);
    }

    @Override
    public long bpfObjectFindMapByName(long obj, String name) {
        return FfmBpf.bpfObjectFindMapByName(obj, name);
    }

    @Override
    public int bpfProgramFd(long prog) {
        return FfmBpf.bpfProgramFd(prog);
    }

    @Override
    public int bpfProgramSetExpectedAttachType(long prog, int attachType) {
        return FfmBpf.bpfProgramSetExpectedAttachType(prog, attachType);
    }

    @Override
    public int bpfProgramSetAutoload(long prog, boolean autoload) {
        return FfmBpf.bpfProgramSetAutoload(prog, autoload);
    }

    @Override
    public int bpfProgramSetLogBuf(long prog, long buf, long size) {
        return FfmBpf.bpfProgramSetLogBuf(prog, buf, size);
    }

    @Override
    public int bpfProgramSetLogLevel(long prog, int level) {
        return FfmBpf.bpfProgramSetLogLevel(prog, level);
    }

    @Override
    public int bpfMapFreeze(int fd) {
        return FfmBpf.bpfMapFreeze(fd);
    }

    @Override
    public int bpfMapFd(long map) {
        return FfmBpf.bpfMapFd(map);
    }

    @Override
    public int bpfMapCreate(int mapType, String name, int keySize, int valueSize, int maxEntries) {
        return FfmBpf.bpfMapCreate(mapType, name, keySize, valueSize, maxEntries);
    }

    @Override
    public int bpfMapUpdateElem(int fd, byte[] key, byte[] value, long flags) {
        return FfmBpf.bpfMapUpdateElem(fd, key, value, flags);
    }

    @Override
    public int bpfMapLookupElem(int fd, byte[] key, byte[] valueOut) {
        return FfmBpf.bpfMapLookupElem(fd, key, valueOut);
    }

    @Override
    public int bpfMapDeleteElem(int fd, byte[] key) {
        return FfmBpf.bpfMapDeleteElem(fd, key);
    }

    @Override
    public int bpfMapGetNextKey(int fd, byte[] key, byte[] nextOut) {
        return FfmBpf.bpfMapGetNextKey(fd, key, nextOut);
    }

    @Override
    public int bpfObjGetInfoByFd(int fd, byte[] info) {
        return FfmBpf.bpfObjGetInfoByFd(fd, info);
    }

    @Override
    public int libbpfProbeProgType(int progType) {
        return FfmBpf.libbpfProbeProgType(progType);
    }

    @Override
    public int libbpfProbeMapType(int mapType) {
        return FfmBpf.libbpfProbeMapType(mapType);
    }

    @Override
    public int libbpfProbeHelper(int progType, int helperId) {
        return FfmBpf.libbpfProbeHelper(progType, helperId);
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

    @Override
    public int bpfMapSetMaxEntries(long map, int maxEntries) {
        return FfmBpf.bpfMapSetMaxEntries(map, maxEntries);
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
