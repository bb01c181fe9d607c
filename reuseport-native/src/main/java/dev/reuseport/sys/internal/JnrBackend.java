package dev.reuseport.sys.internal;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Library;
import com.kenai.jffi.MemoryIO;
import com.kenai.jffi.Type;
import dev.reuseport.sys.internal.jnr.JnrLibC;
import jnr.ffi.LastError;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * {@link NativeBackend} on jnr-ffi (JDK 17+).
 *
 * <p>Every native function is declared with primitive parameters only ({@code int} and {@code long}, pointers
 * passed as raw addresses), so jnr binds them through its fast primitive invokers: a call allocates nothing.
 * Java arrays (socket addresses, option values, map keys…) are staged through a per-thread block of native
 * scratch memory, which is freed when its thread's {@link ThreadLocal} entry is collected; a request larger
 * than {@link JnrScratch#SCRATCH_MAX} uses a block allocated and freed within the call.
 *
 * <p>errno is read with {@link LastError#getLastError(Runtime)} right after a call that reported failure
 * (jnr saves it on the calling thread as part of the call).
 *
 * <p>Functions with six integer arguments ({@code recvfrom}, {@code sendto}, {@code bpf_map_create}) are not
 * declared through jnr: jnr-ffi's x86_64 trampoline compiler (used for all-primitive signatures) passes a
 * corrupt sixth argument (it reads the return address; jnr-ffi issue #181, still present in 2.2.17). They are
 * called through jffi's {@link Invoker#invokeN6} with a prepared {@link CallContext} instead, which saves errno
 * into the same per-thread slot {@link LastError} reads.
 *
 * <p>libbpf is its own family, {@link JnrBpf}, to which each bpf method delegates in one call; the
 * per-thread scratch block is {@link JnrScratch}, shared by both.
 */
final class JnrBackend implements NativeBackend {

    // ---- constants (Linux x86_64 / aarch64) ----------------------------------------------------------------

    private static final int EINVAL = 22;
    private static final int EMSGSIZE = 90;

    private static final int F_DUPFD_CLOEXEC = 1030;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_CTRUNC = 0x8;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;

    /** sizeof(struct msghdr). */
    private static final int MSGHDR_SIZE = 56;
    /** sizeof(struct iovec). */
    private static final int IOVEC_SIZE = 16;
    /** sizeof(struct cmsghdr) == CMSG_LEN(0). */
    private static final int CMSGHDR_SIZE = 16;
    /** Bytes of struct utsname (six 65-byte fields). */
    private static final int UTSNAME_SIZE = 390;
    /** Bytes of the cpu_set_t given to sched_setaffinity (1024 CPUs). */
    private static final int CPU_SET_SIZE = 128;


    private static final MemoryIO IO = MemoryIO.getInstance();
    private static final Invoker FFI = Invoker.getInstance();
    /** ssize_t recvfrom(int, void *, size_t, int, struct sockaddr *, socklen_t *). */
    private static final CallContext RECVFROM = CallContext.getCallContext(Type.SLONG,
            new Type[] {Type.SINT, Type.POINTER, Type.ULONG, Type.SINT, Type.POINTER, Type.POINTER},
            CallingConvention.DEFAULT, true);
    /** ssize_t sendto(int, const void *, size_t, int, const struct sockaddr *, socklen_t). */
    private static final CallContext SENDTO = CallContext.getCallContext(Type.SLONG,
            new Type[] {Type.SINT, Type.POINTER, Type.ULONG, Type.SINT, Type.POINTER, Type.UINT},
            CallingConvention.DEFAULT, true);

    // The native declarations are JnrLibC and JnrLibBpf, in a package of their own that the module opens
    // to jnr-ffi's generated implementations (see module-info.java).

    // ---- state ----------------------------------------------------------------------------------------------

    private final JnrLibC libc;
    private final Runtime runtime;
    private final long recvfromFn;
    private final long sendtoFn;
    private final ThreadLocal<JnrScratch> scratch = ThreadLocal.withInitial(JnrScratch::new);
    /** The libbpf family: every bpf method here is one call to it. */
    private final JnrBpf bpf;

    JnrBackend() {
        JnrLibC c;
        long recv;
        long send;
        try {
            c = LibraryLoader.create(JnrLibC.class).failImmediately().load(LIBC);
            Library lib = Library.getCachedInstance(LIBC, Library.LAZY | Library.GLOBAL);
            if (lib == null) {
                throw new UnsatisfiedLinkError(Library.getLastError());
            }
            recv = symbol(lib, "recvfrom");
            send = symbol(lib, "sendto");
        } catch (LinkageError | RuntimeException e) {
            UnsatisfiedLinkError error = new UnsatisfiedLinkError("jnr-ffi cannot load " + LIBC + ": " + e);
            error.initCause(e);
            throw error;
        }
        this.libc = c;
        this.runtime = Runtime.getRuntime(c);
        this.recvfromFn = recv;
        this.sendtoFn = send;
        this.bpf = new JnrBpf(runtime, scratch);
    }

    private static final String LIBC = "libc.so.6";

    private static long symbol(Library lib, String name) {
        long address = lib.getSymbolAddress(name);
        if (address == 0) {
            throw new UnsatisfiedLinkError("symbol " + name + " not found: " + Library.getLastError());
        }
        return address;
    }

    private int errno() {
        return LastError.getLastError(runtime);
    }

    /** -errno when {@code result} is -1 (the libc failure convention), else {@code result}. */
    private int check(int result) {
        return result == -1 ? -errno() : result;
    }

    private int check(long result) {
        return result == -1 ? -errno() : (int) result;
    }

    @Override
    public String name() {
        return "jnr";
    }

    // ---- memory ---------------------------------------------------------------------------------------------

    @Override
    public long malloc(long size) {
        return libc.malloc(size);
    }

    @Override
    public void free(long address) {
        if (address != 0) {
            libc.free(address);
        }
    }

    @Override
    public void copyToNative(byte[] src, int off, long address, int len) {
        Objects.checkFromIndexSize(off, len, src.length);
        if (len > 0) {
            IO.putByteArray(address, src, off, len);
        }
    }

    @Override
    public void copyFromNative(long address, byte[] dst, int off, int len) {
        Objects.checkFromIndexSize(off, len, dst.length);
        if (len > 0) {
            IO.getByteArray(address, dst, off, len);
        }
    }

    @Override
    public long directBufferAddress(ByteBuffer direct) {
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("not a direct buffer");
        }
        return IO.getDirectBufferAddress(direct);
    }

    // ---- sockets --------------------------------------------------------------------------------------------

    @Override
    public int socket(int domain, int type, int protocol) {
        return check(libc.socket(domain, type, protocol));
    }

    @Override
    public int setsockopt(int fd, int level, int option, byte[] value, int len) {
        Objects.checkFromIndexSize(0, len, value.length);
        JnrScratch s = scratch.get();
        long a = s.acquire(len);
        try {
            IO.putByteArray(a, value, 0, len);
            return check(libc.setsockopt(fd, level, option, a, len));
        } finally {
            s.release(a);
        }
    }

    @Override
    public int getsockopt(int fd, int level, int option, byte[] value) {
        int len = value.length;
        JnrScratch s = scratch.get();
        long a = s.acquire(align8(len) + 8L);
        try {
            long lenPtr = a + align8(len);
            IO.putByteArray(a, value, 0, len);
            IO.putInt(lenPtr, len);
            int r = libc.getsockopt(fd, level, option, a, lenPtr);
            if (r == -1) {
                return -errno();
            }
            int out = IO.getInt(lenPtr);
            IO.getByteArray(a, value, 0, Math.min(out, len));
            return out;
        } finally {
            s.release(a);
        }
    }

    @Override
    public int bind(int fd, byte[] sockaddr, int len) {
        Objects.checkFromIndexSize(0, len, sockaddr.length);
        JnrScratch s = scratch.get();
        long a = s.acquire(len);
        try {
            IO.putByteArray(a, sockaddr, 0, len);
            return check(libc.bind(fd, a, len));
        } finally {
            s.release(a);
        }
    }

    @Override
    public int connect(int fd, byte[] sockaddr, int len) {
        Objects.checkFromIndexSize(0, len, sockaddr.length);
        JnrScratch s = scratch.get();
        long a = s.acquire(len);
        try {
            IO.putByteArray(a, sockaddr, 0, len);
            return check(libc.connect(fd, a, len));
        } finally {
            s.release(a);
        }
    }

    @Override
    public int listen(int fd, int backlog) {
        return check(libc.listen(fd, backlog));
    }

    @Override
    public int accept4(int fd, byte[] peerOut, int flags) {
        if (peerOut == null) {
            return check(libc.accept4(fd, 0L, 0L, flags));
        }
        int room = Math.min(peerOut.length, SockAddr.MAX_LEN);
        long a = scratch.get().address;
        long lenPtr = a + SockAddr.MAX_LEN;
        IO.putInt(lenPtr, room);
        int r = libc.accept4(fd, a, lenPtr, flags);
        if (r == -1) {
            return -errno();
        }
        IO.getByteArray(a, peerOut, 0, Math.min(IO.getInt(lenPtr), room));
        return r;
    }

    @Override
    public int getsockname(int fd, byte[] out) {
        int room = Math.min(out.length, SockAddr.MAX_LEN);
        long a = scratch.get().address;
        long lenPtr = a + SockAddr.MAX_LEN;
        IO.putInt(lenPtr, room);
        if (libc.getsockname(fd, a, lenPtr) == -1) {
            return -errno();
        }
        int len = IO.getInt(lenPtr);
        IO.getByteArray(a, out, 0, Math.min(len, room));
        return len;
    }

    @Override
    public int getpeername(int fd, byte[] out) {
        int room = Math.min(out.length, SockAddr.MAX_LEN);
        long a = scratch.get().address;
        long lenPtr = a + SockAddr.MAX_LEN;
        IO.putInt(lenPtr, room);
        if (libc.getpeername(fd, a, lenPtr) == -1) {
            return -errno();
        }
        int len = IO.getInt(lenPtr);
        IO.getByteArray(a, out, 0, Math.min(len, room));
        return len;
    }

    @Override
    public int shutdown(int fd, int how) {
        return check(libc.shutdown(fd, how));
    }

    @Override
    public int close(int fd) {
        return check(libc.close(fd));
    }

    @Override
    public int dupCloexec(int fd) {
        return check(libc.fcntl(fd, F_DUPFD_CLOEXEC, 0));
    }

    @Override
    public int fileStatusFlags(int fd) {
        return check(libc.fcntl(fd, 3 /* F_GETFL */, 0));
    }

    @Override
    public int read(int fd, long address, int len) {
        return check(libc.read(fd, address, len));
    }

    @Override
    public int write(int fd, long address, int len) {
        return check(libc.write(fd, address, len));
    }

    @Override
    public int recvfrom(int fd, long address, int len, int flags, byte[] peerOut) {
        if (peerOut == null) {
            return check(FFI.invokeN6(RECVFROM, recvfromFn, fd, address, len, flags, 0L, 0L));
        }
        int room = Math.min(peerOut.length, SockAddr.MAX_LEN);
        long a = scratch.get().address;
        long lenPtr = a + SockAddr.MAX_LEN;
        IO.putInt(lenPtr, room);
        long r = FFI.invokeN6(RECVFROM, recvfromFn, fd, address, len, flags, a, lenPtr);
        if (r == -1) {
            return -errno();
        }
        IO.getByteArray(a, peerOut, 0, Math.min(IO.getInt(lenPtr), room));
        return (int) r;
    }

    @Override
    public int sendto(int fd, long address, int len, int flags, byte[] sockaddr, int addrLen) {
        if (sockaddr == null) {
            return check(FFI.invokeN6(SENDTO, sendtoFn, fd, address, len, flags, 0L, 0L));
        }
        Objects.checkFromIndexSize(0, addrLen, sockaddr.length);
        JnrScratch s = scratch.get();
        long a = s.acquire(addrLen);
        try {
            IO.putByteArray(a, sockaddr, 0, addrLen);
            return check(FFI.invokeN6(SENDTO, sendtoFn, fd, address, len, flags, a, addrLen));
        } finally {
            s.release(a);
        }
    }

    @Override
    public int sendmsgFds(int fd, byte[] data, int len, int[] fds, int nfds) {
        Objects.checkFromIndexSize(0, len, data.length);
        Objects.checkFromIndexSize(0, nfds, fds.length);
        int control = nfds > 0 ? CMSGHDR_SIZE + align8(4 * nfds) : 0;
        int dataOff = MSGHDR_SIZE + IOVEC_SIZE + control;
        JnrScratch s = scratch.get();
        long a = s.acquire((long) dataOff + len);
        try {
            IO.setMemory(a, dataOff, (byte) 0);
            long iov = a + MSGHDR_SIZE;
            long ctl = iov + IOVEC_SIZE;
            long buf = a + dataOff;
            IO.putByteArray(buf, data, 0, len);
            IO.putLong(iov, buf);                   // iov_base
            IO.putLong(iov + 8, len);               // iov_len
            IO.putLong(a + 16, iov);                // msg_iov
            IO.putLong(a + 24, 1);                  // msg_iovlen
            if (nfds > 0) {
                IO.putLong(ctl, CMSGHDR_SIZE + 4L * nfds);  // cmsg_len = CMSG_LEN(4 * nfds)
                IO.putInt(ctl + 8, SOL_SOCKET);             // cmsg_level
                IO.putInt(ctl + 12, SCM_RIGHTS);            // cmsg_type
                IO.putIntArray(ctl + CMSGHDR_SIZE, fds, 0, nfds);
                IO.putLong(a + 32, ctl);                    // msg_control
                IO.putLong(a + 40, control);                // msg_controllen = CMSG_SPACE(4 * nfds)
            }
            return check(libc.sendmsg(fd, a, MSG_NOSIGNAL));
        } finally {
            s.release(a);
        }
    }

    @Override
    public int recvmsgFds(int fd, byte[] data, int[] fdsOut) {
        int room = fdsOut.length;
        int control = room > 0 ? CMSGHDR_SIZE + align8(4 * room) : 0;
        int dataOff = MSGHDR_SIZE + IOVEC_SIZE + control;
        int len = data.length;
        java.util.Arrays.fill(fdsOut, -1);
        JnrScratch s = scratch.get();
        long a = s.acquire((long) dataOff + len);
        try {
            IO.setMemory(a, dataOff, (byte) 0);
            long iov = a + MSGHDR_SIZE;
            long ctl = iov + IOVEC_SIZE;
            long buf = a + dataOff;
            IO.putLong(iov, buf);
            IO.putLong(iov + 8, len);
            IO.putLong(a + 16, iov);
            IO.putLong(a + 24, 1);
            if (control > 0) {
                IO.putLong(a + 32, ctl);
                IO.putLong(a + 40, control);
            }
            long r = libc.recvmsg(fd, a, MSG_CMSG_CLOEXEC);
            if (r == -1) {
                return -errno();
            }
            // Collect every SCM_RIGHTS descriptor that arrived (CMSG_FIRSTHDR / CMSG_NXTHDR).
            long controllen = IO.getLong(a + 40);
            int flags = IO.getInt(a + 48);
            int stored = 0;
            boolean overflow = false;
            long off = 0;
            while (control > 0 && off + CMSGHDR_SIZE <= controllen) {
                long cmsgLen = IO.getLong(ctl + off);
                if (cmsgLen < CMSGHDR_SIZE || off + cmsgLen > controllen) {
                    break;
                }
                if (IO.getInt(ctl + off + 8) == SOL_SOCKET && IO.getInt(ctl + off + 12) == SCM_RIGHTS) {
                    int n = (int) ((cmsgLen - CMSGHDR_SIZE) / 4);
                    for (int i = 0; i < n; i++) {
                        int received = IO.getInt(ctl + off + CMSGHDR_SIZE + 4L * i);
                        if (stored < room) {
                            fdsOut[stored++] = received;
                        } else {
                            overflow = true;
                            libc.close(received);
                        }
                    }
                }
                off += align8(cmsgLen);
            }
            if ((flags & MSG_CTRUNC) != 0 || overflow) {
                for (int i = 0; i < stored; i++) {
                    libc.close(fdsOut[i]);
                    fdsOut[i] = -1;
                }
                return -EMSGSIZE;
            }
            IO.getByteArray(buf, data, 0, (int) r);
            return (int) r;
        } finally {
            s.release(a);
        }
    }

    @Override
    public int poll(int fd, int events, int timeoutMillis) {
        long a = scratch.get().address;
        IO.putInt(a, fd);
        IO.putInt(a + 4, events & 0xffff);          // events = events, revents = 0
        int r = libc.poll(a, 1, timeoutMillis);
        if (r == -1) {
            return -errno();
        }
        return r == 0 ? 0 : IO.getShort(a + 6) & 0xffff;
    }

    // ---- process --------------------------------------------------------------------------------------------

    @Override
    public int uname(byte[] out) {
        long a = scratch.get().address;
        IO.setMemory(a, UTSNAME_SIZE, (byte) 0);
        if (libc.uname(a) == -1) {
            return -errno();
        }
        IO.getByteArray(a, out, 0, Math.min(out.length, UTSNAME_SIZE));
        return 0;
    }

    @Override
    public int getuid() {
        return libc.getuid();
    }

    @Override
    public int membarrier(int cmd) {
        long r = libc.syscall(Sys.SYS_MEMBARRIER, cmd, 0, 0);
        return r == -1 ? -errno() : (int) r;
    }

    @Override
    public int gettid() {
        return (int) libc.syscall(Sys.SYS_GETTID, 0, 0, 0);
    }

    @Override
    public int setpriority(int which, int who, int prio) {
        return check(libc.setpriority(which, who, prio));
    }

    @Override
    public int schedSetscheduler(int tid, int policy, int priority) {
        long a = scratch.get().address;
        IO.putInt(a, priority); // struct sched_param
        return check(libc.sched_setscheduler(tid, policy, a));
    }

    @Override
    public int schedGetcpu() {
        return check(libc.sched_getcpu());
    }

    @Override
    public int pinToCpu(int cpu) {
        if (cpu < 0 || cpu >= CPU_SET_SIZE * 8) {
            return -EINVAL;
        }
        long a = scratch.get().address;
        IO.setMemory(a, CPU_SET_SIZE, (byte) 0);
        IO.putByte(a + (cpu >>> 3), (byte) (1 << (cpu & 7)));
        return check(libc.sched_setaffinity(0, CPU_SET_SIZE, a));
    }

    // ---- libbpf: JnrBpf ------------------------------------------------------------------------------------

    @Override
    public String libbpfUnavailableReason() {
        return bpf.libbpfUnavailableReason();
    }

    @Override
    public int libbpfVersion() {
        return bpf.libbpfVersion();
    }

    @Override
    public void libbpfSilence() {
        bpf.libbpfSilence();
    }

    @Override
    public int libbpfNumPossibleCpus() {
        return bpf.libbpfNumPossibleCpus();
    }

    @Override
    public long bpfObjectOpenMem(long buf, long size) {
        return bpf.bpfObjectOpenMem(buf, size);
    }

    @Override
    public int bpfObjectLoad(long obj) {
        return bpf.bpfObjectLoad(obj);
    }

    @Override
    public void bpfObjectClose(long obj) {
        bpf.bpfObjectClose(obj);
    }

    @Override
    public long bpfObjectFindProgramByName(long obj, String name) {
        return bpf.bpfObjectFindProgramByName(obj, name);
    }

    @Override
    public long bpfObjectFindMapByName(long obj, String name) {
        return bpf.bpfObjectFindMapByName(obj, name);
    }

    @Override
    public int bpfProgramFd(long prog) {
        return bpf.bpfProgramFd(prog);
    }

    @Override
    public int bpfProgramSetExpectedAttachType(long prog, int attachType) {
        return bpf.bpfProgramSetExpectedAttachType(prog, attachType);
    }

    @Override
    public int bpfProgramSetAutoload(long prog, boolean autoload) {
        return bpf.bpfProgramSetAutoload(prog, autoload);
    }

    @Override
    public int bpfProgramSetLogBuf(long prog, long buf, long size) {
        return bpf.bpfProgramSetLogBuf(prog, buf, size);
    }

    @Override
    public int bpfProgramSetLogLevel(long prog, int level) {
        return bpf.bpfProgramSetLogLevel(prog, level);
    }

    @Override
    public int bpfMapFreeze(int fd) {
        return bpf.bpfMapFreeze(fd);
    }

    @Override
    public int bpfMapFd(long map) {
        return bpf.bpfMapFd(map);
    }

    @Override
    public int bpfMapCreate(int mapType, String name, int keySize, int valueSize, int maxEntries) {
        return bpf.bpfMapCreate(mapType, name, keySize, valueSize, maxEntries);
    }

    @Override
    public int bpfMapUpdateElem(int fd, byte[] key, byte[] value, long flags) {
        return bpf.bpfMapUpdateElem(fd, key, value, flags);
    }

    @Override
    public int bpfMapLookupElem(int fd, byte[] key, byte[] valueOut) {
        return bpf.bpfMapLookupElem(fd, key, valueOut);
    }

    @Override
    public int bpfMapDeleteElem(int fd, byte[] key) {
        return bpf.bpfMapDeleteElem(fd, key);
    }

    @Override
    public int bpfMapGetNextKey(int fd, byte[] key, byte[] nextOut) {
        return bpf.bpfMapGetNextKey(fd, key, nextOut);
    }

    @Override
    public int bpfObjGetInfoByFd(int fd, byte[] info) {
        return bpf.bpfObjGetInfoByFd(fd, info);
    }

    @Override
    public int libbpfProbeProgType(int progType) {
        return bpf.libbpfProbeProgType(progType);
    }

    @Override
    public int libbpfProbeMapType(int mapType) {
        return bpf.libbpfProbeMapType(mapType);
    }

    @Override
    public int libbpfProbeHelper(int progType, int helperId) {
        return bpf.libbpfProbeHelper(progType, helperId);
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    private static int align8(int n) {
        return (n + 7) & ~7;
    }

    private static long align8(long n) {
        return (n + 7) & ~7L;
    }

    // --- recvmmsg/sendmmsg/GRO/GSO: ingest ---

    @Override
    public int recvmmsg(int fd, long msgvec, int vlen, int flags) {
        return check(libc.recvmmsg(fd, msgvec, vlen, flags, 0L));
    }

    @Override
    public int sendmmsg(int fd, long msgvec, int vlen, int flags) {
        return check(libc.sendmmsg(fd, msgvec, vlen, flags | MSG_NOSIGNAL));
    }

    @Override
    public int recvmsgAt(int fd, long msghdr, int flags) {
        return check(libc.recvmsg(fd, msghdr, flags));
    }

    @Override
    public int sendmsgAt(int fd, long msghdr, int flags) {
        return check(libc.sendmsg(fd, msghdr, flags | MSG_NOSIGNAL));
    }

    @Override
    public int schedGetaffinity(byte[] maskOut) {
        long a = scratch.get().address;
        IO.setMemory(a, CPU_SET_SIZE, (byte) 0);
        int r = check(libc.sched_getaffinity(0, CPU_SET_SIZE, a));
        if (r < 0) {
            return r;
        }
        // glibc returns 0 (not the kernel's mask size) and zero-fills the rest of the set
        int n = Math.min(CPU_SET_SIZE, maskOut.length);
        IO.getByteArray(a, maskOut, 0, n);
        return n;
    }

    @Override
    public int schedSetaffinity(byte[] mask) {
        if (mask == null || mask.length > CPU_SET_SIZE) {
            return -EINVAL;
        }
        long a = scratch.get().address;
        IO.setMemory(a, CPU_SET_SIZE, (byte) 0);
        IO.putByteArray(a, mask, 0, mask.length);
        return check(libc.sched_setaffinity(0, CPU_SET_SIZE, a));
    }

    @Override
    public int bpfMapSetMaxEntries(long map, int maxEntries) {
        return bpf.bpfMapSetMaxEntries(map, maxEntries);
    }

    // --- end ingest ---

    // --- epoll: the serving loop ---------------------------------------------------------------------

    @Override
    public int epollCreate1(int flags) {
        return check(libc.epoll_create1(flags));
    }

    @Override
    public int epollCtl(int epfd, int op, int fd, int events, long data) {
        long a = scratch.get().address;
        IO.putInt(a, events);
        IO.putLong(a + Sys.EPOLL_DATA_OFFSET, data);
        return check(libc.epoll_ctl(epfd, op, fd, a));
    }

    @Override
    public int epollWait(int epfd, long address, int maxEvents, int timeoutMillis) {
        return check(libc.epoll_wait(epfd, address, maxEvents, timeoutMillis));
    }

    @Override
    public int eventfd(int initval, int flags) {
        return check(libc.eventfd(initval, flags));
    }

    // --- end epoll -----------------------------------------------------------------------------------

    // --- systemd: adopting passed descriptors ------------------------------------------------------

    @Override
    public int setCloexec(int fd) {
        return check(libc.fcntl(fd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */));
    }

    @Override
    public int setNonBlocking(int fd) {
        return check(libc.fcntl(fd, 4 /* F_SETFL */, 0x800 /* O_NONBLOCK */));
    }

    @Override
    public int unsetenv(String name) {
        return check(libc.unsetenv(name));
    }

    // --- end systemd ---------------------------------------------------------------------------------
}
