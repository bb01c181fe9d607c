package dev.reuseport.sys.internal;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Library;
import com.kenai.jffi.MemoryIO;
import com.kenai.jffi.Type;
import dev.reuseport.sys.internal.jnr.JnrLibBpf;
import dev.reuseport.sys.internal.jnr.JnrLibC;
import jnr.ffi.LastError;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * {@link NativeBackend} on jnr-ffi (JDK 17+).
 *
 * <p>Every native function is declared with primitive parameters only ({@code int} and {@code long}, pointers
 * passed as raw addresses), so jnr binds them through its fast primitive invokers: a call allocates nothing.
 * Java arrays (socket addresses, option values, map keys…) are staged through a per-thread block of native
 * scratch memory, which is freed when its thread's {@link ThreadLocal} entry is collected; a request larger
 * than {@link #SCRATCH_MAX} uses a block allocated and freed within the call.
 *
 * <p>errno is read with {@link LastError#getLastError(Runtime)} right after a call that reported failure
 * (jnr saves it on the calling thread as part of the call).
 *
 * <p>Functions with six integer arguments ({@code recvfrom}, {@code sendto}, {@code bpf_map_create}) are not
 * declared through jnr: jnr-ffi's x86_64 trampoline compiler (used for all-primitive signatures) passes a
 * corrupt sixth argument (it reads the return address; jnr-ffi issue #181, still present in 2.2.17). They are
 * called through jffi's {@link Invoker#invokeN6} with a prepared {@link CallContext} instead, which saves errno
 * into the same per-thread slot {@link LastError} reads.
 */
final class JnrBackend implements NativeBackend {

    // ---- constants (Linux x86_64 / aarch64) ----------------------------------------------------------------

    private static final int ENOENT = 2;
    private static final int EINVAL = 22;
    private static final int ENOSYS = 38;
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

    private static final int SCRATCH_INITIAL = 1024;
    /** Largest per-thread scratch block kept between calls; larger requests are call-scoped. */
    private static final int SCRATCH_MAX = 64 * 1024;

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
    /** int bpf_map_create(enum bpf_map_type, const char *, __u32, __u32, __u32, const struct bpf_map_create_opts *). */
    private static final CallContext BPF_MAP_CREATE = CallContext.getCallContext(Type.SINT,
            new Type[] {Type.SINT, Type.POINTER, Type.UINT, Type.UINT, Type.UINT, Type.POINTER},
            CallingConvention.DEFAULT, true);
    private static final Cleaner CLEANER = Cleaner.create();

    // The native declarations are JnrLibC and JnrLibBpf, in a package of their own that the module opens
    // to jnr-ffi's generated implementations (see module-info.java).

    // ---- state ----------------------------------------------------------------------------------------------

    private final JnrLibC libc;
    private final Runtime runtime;
    private final long recvfromFn;
    private final long sendtoFn;
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);

    private final Object libbpfLock = new Object();
    private volatile boolean libbpfTried;
    private volatile JnrLibBpf libbpf;
    private long bpfMapCreateFn;
    private volatile String libbpfReason;

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
        Scratch s = scratch.get();
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
        Scratch s = scratch.get();
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
        Scratch s = scratch.get();
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
        Scratch s = scratch.get();
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
        Scratch s = scratch.get();
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
        Scratch s = scratch.get();
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
        Scratch s = scratch.get();
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

    // ---- libbpf ---------------------------------------------------------------------------------------------

    /** The loaded libbpf, or null (with {@link #libbpfReason} set) when it cannot be loaded. */
    private JnrLibBpf bpf() {
        if (libbpfTried) {
            return libbpf;
        }
        synchronized (libbpfLock) {
            if (!libbpfTried) {
                String path = System.getProperty("reuseport.libbpf", "libbpf.so.1");
                try {
                    // dlopen the name or path exactly as given (jnr would retry a failed name under mangled
                    // variants such as lib<name>.so), then bind jnr to that same, now cached, handle.
                    Library handle = Library.getCachedInstance(path, Library.LAZY | Library.GLOBAL);
                    if (handle == null) {
                        libbpfReason = "cannot load libbpf from '" + path + "': " + Library.getLastError();
                    } else if (handle.getSymbolAddress("libbpf_major_version") == 0) {
                        libbpfReason = "cannot load libbpf from '" + path
                                + "': not libbpf 1.x (no symbol libbpf_major_version)";
                    } else {
                        JnrLibBpf lib = LibraryLoader.create(JnrLibBpf.class).failImmediately().load(path);
                        bpfMapCreateFn = handle.getSymbolAddress("bpf_map_create");
                        libbpf = lib;
                    }
                } catch (LinkageError | RuntimeException e) {
                    String msg = e.getMessage() != null ? e.getMessage().trim() : e.toString();
                    libbpfReason = "cannot load libbpf from '" + path + "': " + msg;
                }
                libbpfTried = true;
            }
            return libbpf;
        }
    }

    /** libbpf 1.x returns -errno itself; keep the errno convention for a bare -1. */
    private int bpfResult(int result) {
        if (result >= 0) {
            return result;
        }
        if (result == -1) {
            int e = errno();
            return e > 0 ? -e : -1;
        }
        return result;
    }

    /**
     * A pointer result: the address, or -errno (-ENOENT without errno) for NULL. Callers clear errno before
     * the call so that a stale value is not mistaken for the function's.
     */
    private long bpfPointer(long result) {
        if (result != 0) {
            return result;
        }
        int e = errno();
        return e > 0 ? -e : -ENOENT;
    }

    @Override
    public String libbpfUnavailableReason() {
        bpf();
        return libbpfReason;
    }

    @Override
    public int libbpfVersion() {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            return (b.libbpf_major_version() << 16) | (b.libbpf_minor_version() & 0xffff);
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    @Override
    public void libbpfSilence() {
        JnrLibBpf b = bpf();
        if (b == null) {
            return;
        }
        try {
            b.libbpf_set_print(0L);
        } catch (LinkageError e) {
            // a libbpf without libbpf_set_print: nothing to silence
        }
    }

    @Override
    public int libbpfNumPossibleCpus() {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            return bpfResult(b.libbpf_num_possible_cpus());
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    @Override
    public long bpfObjectOpenMem(long buf, long size) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            LastError.setLastError(runtime, 0);
            return bpfPointer(b.bpf_object__open_mem(buf, size, 0L));
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    @Override
    public int bpfObjectLoad(long obj) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            return bpfResult(b.bpf_object__load(obj));
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    @Override
    public void bpfObjectClose(long obj) {
        JnrLibBpf b = bpf();
        if (b == null || obj == 0) {
            return;
        }
        try {
            b.bpf_object__close(obj);
        } catch (LinkageError e) {
            // nothing to close with
        }
    }

    @Override
    public long bpfObjectFindProgramByName(long obj, String name) {
        return findByName(obj, name, false);
    }

    @Override
    public long bpfObjectFindMapByName(long obj, String name) {
        return findByName(obj, name, true);
    }

    /** bpf_object__find_map_by_name or bpf_object__find_program_by_name with a C copy of {@code name}. */
    private long findByName(long obj, String name, boolean map) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        byte[] cname = cString(name);
        Scratch s = scratch.get();
        long a = s.acquire(cname.length);
        try {
            IO.putByteArray(a, cname, 0, cname.length);
            LastError.setLastError(runtime, 0);
            return bpfPointer(map ? b.bpf_object__find_map_by_name(obj, a) : b.bpf_object__find_program_by_name(obj, a));
        } catch (LinkageError e) {
            return -ENOSYS;
        } finally {
            s.release(a);
        }
    }

    @Override
    public int bpfProgramFd(long prog) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            return bpfResult(b.bpf_program__fd(prog));
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    @Override
    public int bpfProgramSetExpectedAttachType(long prog, int attachType) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            return bpfResult(b.bpf_program__set_expected_attach_type(prog, attachType));
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    @Override
    public int bpfProgramSetAutoload(long prog, boolean autoload) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            return bpfResult(b.bpf_program__set_autoload(prog, autoload ? 1 : 0));
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    @Override
    public int bpfProgramSetLogBuf(long prog, long buf, long size) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            return bpfResult(b.bpf_program__set_log_buf(prog, buf, size));
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    @Override
    public int bpfProgramSetLogLevel(long prog, int level) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            return bpfResult(b.bpf_program__set_log_level(prog, level));
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    @Override
    public int bpfMapFreeze(int fd) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            return bpfResult(b.bpf_map_freeze(fd));
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    @Override
    public int bpfMapFd(long map) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            return bpfResult(b.bpf_map__fd(map));
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    @Override
    public int bpfMapCreate(int mapType, String name, int keySize, int valueSize, int maxEntries) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        long fn = bpfMapCreateFn;
        if (fn == 0) {
            return -ENOSYS;
        }
        if (name == null) {
            return bpfResult((int) FFI.invokeN6(BPF_MAP_CREATE, fn, mapType, 0L, keySize, valueSize, maxEntries, 0L));
        }
        byte[] cname = cString(name);
        Scratch s = scratch.get();
        long a = s.acquire(cname.length);
        try {
            IO.putByteArray(a, cname, 0, cname.length);
            return bpfResult((int) FFI.invokeN6(BPF_MAP_CREATE, fn, mapType, a, keySize, valueSize, maxEntries, 0L));
        } finally {
            s.release(a);
        }
    }

    @Override
    public int bpfMapUpdateElem(int fd, byte[] key, byte[] value, long flags) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        int keyRoom = align8(key.length);
        Scratch s = scratch.get();
        long a = s.acquire((long) keyRoom + value.length);
        try {
            IO.putByteArray(a, key, 0, key.length);
            IO.putByteArray(a + keyRoom, value, 0, value.length);
            return bpfResult(b.bpf_map_update_elem(fd, a, a + keyRoom, flags));
        } catch (LinkageError e) {
            return -ENOSYS;
        } finally {
            s.release(a);
        }
    }

    @Override
    public int bpfMapLookupElem(int fd, byte[] key, byte[] valueOut) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        int keyRoom = align8(key.length);
        Scratch s = scratch.get();
        long a = s.acquire((long) keyRoom + valueOut.length);
        try {
            IO.putByteArray(a, key, 0, key.length);
            int r = bpfResult(b.bpf_map_lookup_elem(fd, a, a + keyRoom));
            if (r == 0) {
                IO.getByteArray(a + keyRoom, valueOut, 0, valueOut.length);
            }
            return r;
        } catch (LinkageError e) {
            return -ENOSYS;
        } finally {
            s.release(a);
        }
    }

    @Override
    public int bpfMapDeleteElem(int fd, byte[] key) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        Scratch s = scratch.get();
        long a = s.acquire(key.length);
        try {
            IO.putByteArray(a, key, 0, key.length);
            return bpfResult(b.bpf_map_delete_elem(fd, a));
        } catch (LinkageError e) {
            return -ENOSYS;
        } finally {
            s.release(a);
        }
    }

    @Override
    public int bpfMapGetNextKey(int fd, byte[] key, byte[] nextOut) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        int keyRoom = key == null ? 0 : align8(key.length);
        Scratch s = scratch.get();
        long a = s.acquire((long) keyRoom + nextOut.length);
        try {
            if (key != null) {
                IO.putByteArray(a, key, 0, key.length);
            }
            int r = bpfResult(b.bpf_map_get_next_key(fd, key == null ? 0L : a, a + keyRoom));
            if (r == 0) {
                IO.getByteArray(a + keyRoom, nextOut, 0, nextOut.length);
            }
            return r;
        } catch (LinkageError e) {
            return -ENOSYS;
        } finally {
            s.release(a);
        }
    }

    @Override
    public int bpfObjGetInfoByFd(int fd, byte[] info) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        int room = align8(info.length);
        Scratch s = scratch.get();
        long a = s.acquire(room + 8L);
        try {
            long lenPtr = a + room;
            IO.putByteArray(a, info, 0, info.length);
            IO.putInt(lenPtr, info.length);
            int r = bpfResult(b.bpf_obj_get_info_by_fd(fd, a, lenPtr));
            if (r < 0) {
                return r;
            }
            IO.getByteArray(a, info, 0, info.length);
            return IO.getInt(lenPtr);
        } catch (LinkageError e) {
            return -ENOSYS;
        } finally {
            s.release(a);
        }
    }

    @Override
    public int libbpfProbeProgType(int progType) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            return bpfResult(b.libbpf_probe_bpf_prog_type(progType, 0L));
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    @Override
    public int libbpfProbeMapType(int mapType) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            return bpfResult(b.libbpf_probe_bpf_map_type(mapType, 0L));
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    @Override
    public int libbpfProbeHelper(int progType, int helperId) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        try {
            return bpfResult(b.libbpf_probe_bpf_helper(progType, helperId, 0L));
        } catch (LinkageError e) {
            return -ENOSYS;
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    private static int align8(int n) {
        return (n + 7) & ~7;
    }

    private static long align8(long n) {
        return (n + 7) & ~7L;
    }

    private static byte[] cString(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        byte[] c = new byte[utf8.length + 1];
        System.arraycopy(utf8, 0, c, 0, utf8.length);
        return c;
    }

    /**
     * A thread's native scratch block: at least {@link #SCRATCH_INITIAL} bytes, grown on demand up to
     * {@link #SCRATCH_MAX}; larger requests get a block of their own that {@link #release} frees.
     */
    private static final class Scratch {
        /** Owns the native block; the cleaner frees it once the Scratch is unreachable. */
        private final Block block;
        /** The current block's address (never 0). */
        long address;
        private long size;

        Scratch() {
            long a = IO.allocateMemory(SCRATCH_INITIAL, true);
            if (a == 0) {
                throw new OutOfMemoryError("cannot allocate " + SCRATCH_INITIAL + " bytes of native scratch memory");
            }
            this.block = new Block(a);
            this.address = a;
            this.size = SCRATCH_INITIAL;
            CLEANER.register(this, block);
        }

        /** An address with room for {@code need} bytes: this thread's block, or a call-scoped one. */
        long acquire(long need) {
            if (need <= size) {
                return address;
            }
            if (need <= SCRATCH_MAX) {
                long grown = Math.max(size * 2, Long.highestOneBit(need - 1) << 1);
                grown = Math.min(Math.max(grown, need), SCRATCH_MAX);
                long a = IO.allocateMemory(grown, true);
                if (a == 0) {
                    throw new OutOfMemoryError("cannot allocate " + grown + " bytes of native scratch memory");
                }
                IO.freeMemory(block.address);
                block.address = a;
                address = a;
                size = grown;
                return a;
            }
            long a = IO.allocateMemory(need, false);
            if (a == 0) {
                throw new OutOfMemoryError("cannot allocate " + need + " bytes of native memory");
            }
            return a;
        }

        /** Frees {@code a} when {@link #acquire} allocated it for one call. */
        void release(long a) {
            if (a != address) {
                IO.freeMemory(a);
            }
        }
    }

    private static final class Block implements Runnable {
        volatile long address;

        Block(long address) {
            this.address = address;
        }

        @Override
        public void run() {
            long a = address;
            address = 0;
            if (a != 0) {
                IO.freeMemory(a);
            }
        }
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
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        if (map == 0) {
            return -EINVAL;
        }
        try {
            int r = b.bpf_map__set_max_entries(map, maxEntries);
            return r < 0 ? r : 0; // libbpf 1.x returns -errno itself
        } catch (LinkageError e) {
            return -ENOSYS;
        }
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
