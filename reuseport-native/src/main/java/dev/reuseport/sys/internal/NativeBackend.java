package dev.reuseport.sys.internal;

import dev.reuseport.sys.NativeException;
import java.nio.ByteBuffer;

/**
 * The raw native calls, implemented twice: with jnr-ffi ({@code JnrBackend}, JDK 17+) and with the
 * Foreign Function and Memory API ({@code FfmBackend}, JDK 22+, in the multi-release part of the JAR).
 *
 * <p>Contract shared by every method (both backends must behave identically):
 * <ul>
 *   <li>No method throws for a failed call. A call that fails returns {@code -errno}, with errno captured
 *       immediately after the call (FFM: {@code Linker.Option.captureCallState("errno")}; jnr:
 *       {@code LastError.getLastError}). Success returns the call's own non-negative result.</li>
 *   <li>Methods returning a native address ({@code long}) return the address on success and
 *       {@code -errno} on failure (a NULL result becomes {@code -errno}, or {@code -ENOENT} when the
 *       function sets no errno).</li>
 *   <li>Socket addresses are passed as {@code byte[]} holding a complete {@code struct sockaddr_in} /
 *       {@code sockaddr_in6} in native byte order, encoded and decoded by {@link SockAddr}.</li>
 *   <li>Buffer addresses ({@code long address}) point into memory the caller keeps alive for the call
 *       (a direct {@link ByteBuffer} or a {@link NativeMemory} block).</li>
 *   <li>No allocation outlives its call: scratch native memory is thread-local or call-scoped.</li>
 * </ul>
 * Callers never use this interface directly; {@link Sys}, {@link LibBpf} and {@link NativeMemory} wrap
 * every method, check the result and throw {@link NativeException}.
 */
interface NativeBackend {

    /** "ffm" or "jnr". */
    String name();

    // ---- memory -------------------------------------------------------------------------------

    /** malloc(size); 0 on failure. */
    long malloc(long size);

    /** free(address); a 0 address is ignored. */
    void free(long address);

    /** Copies {@code len} bytes of {@code src} from {@code off} to native {@code address}. */
    void copyToNative(byte[] src, int off, long address, int len);

    /** Copies {@code len} bytes from native {@code address} into {@code dst} at {@code off}. */
    void copyFromNative(long address, byte[] dst, int off, int len);

    /** Address of element 0 of a direct buffer (not its position). */
    long directBufferAddress(ByteBuffer direct);

    // ---- sockets ------------------------------------------------------------------------------

    /** socket(2): fd or -errno. */
    int socket(int domain, int type, int protocol);

    /** setsockopt(2) with the first {@code len} bytes of {@code value}: 0 or -errno. */
    int setsockopt(int fd, int level, int option, byte[] value, int len);

    /**
     * getsockopt(2) into {@code value} with {@code optlen = value.length}: the returned optlen, or -errno.
     */
    int getsockopt(int fd, int level, int option, byte[] value);

    /** bind(2) with the first {@code len} bytes of {@code sockaddr}: 0 or -errno. */
    int bind(int fd, byte[] sockaddr, int len);

    /** connect(2): 0 or -errno. */
    int connect(int fd, byte[] sockaddr, int len);

    /** listen(2): 0 or -errno. */
    int listen(int fd, int backlog);

    /**
     * accept4(2). When {@code peerOut} is non-null (at least {@link SockAddr#MAX_LEN} bytes) the peer's
     * sockaddr is written into it. Returns the new fd or -errno.
     */
    int accept4(int fd, byte[] peerOut, int flags);

    /** getsockname(2) into {@code out} (at least {@link SockAddr#MAX_LEN} bytes): its length or -errno. */
    int getsockname(int fd, byte[] out);

    /** getpeername(2) into {@code out}: its length or -errno. */
    int getpeername(int fd, byte[] out);

    /** shutdown(2): 0 or -errno. */
    int shutdown(int fd, int how);

    /** close(2): 0 or -errno. */
    int close(int fd);

    /** dup(2) with FD_CLOEXEC (fcntl F_DUPFD_CLOEXEC, 0): new fd or -errno. */
    int dupCloexec(int fd);

    /** fcntl(F_GETFL): the file status flags (O_NONBLOCK ...) or -errno. */
    int fileStatusFlags(int fd);

    /** read(2) of at most {@code len} bytes into {@code address}: bytes read (0 at EOF) or -errno. */
    int read(int fd, long address, int len);

    /** write(2) of {@code len} bytes from {@code address}: bytes written or -errno. */
    int write(int fd, long address, int len);

    /**
     * recvfrom(2) into {@code address}; when {@code peerOut} is non-null (at least
     * {@link SockAddr#MAX_LEN} bytes) the sender's sockaddr is written into it. Bytes received or -errno.
     */
    int recvfrom(int fd, long address, int len, int flags, byte[] peerOut);

    /** sendto(2); {@code sockaddr} may be null (connected socket). Bytes sent or -errno. */
    int sendto(int fd, long address, int len, int flags, byte[] sockaddr, int addrLen);

    /**
     * sendmsg(2) of {@code data[0..len)} carrying {@code fds[0..nfds)} as one SCM_RIGHTS control message
     * (no control message when {@code nfds == 0}). Bytes sent or -errno.
     */
    int sendmsgFds(int fd, byte[] data, int len, int[] fds, int nfds);

    /**
     * recvmsg(2) with MSG_CMSG_CLOEXEC into {@code data}, with room for {@code fdsOut.length} descriptors
     * in the control buffer. Received descriptors are stored in {@code fdsOut} in order and the remaining
     * entries set to -1. Returns the bytes received (0 at EOF) or -errno. A truncated control message
     * (MSG_CTRUNC) closes whatever descriptors did arrive and returns -EMSGSIZE.
     */
    int recvmsgFds(int fd, byte[] data, int[] fdsOut);

    /**
     * poll(2) on one fd: the revents (0 on timeout) or -errno. {@code timeoutMillis < 0} waits forever.
     */
    int poll(int fd, int events, int timeoutMillis);

    // ---- process ------------------------------------------------------------------------------

    /**
     * uname(2) into {@code out} (at least 390 bytes: six 65-byte NUL-terminated fields, sysname first,
     * release third): 0 or -errno.
     */
    int uname(byte[] out);

    /** getuid(2). */
    int getuid();

    /**
     * membarrier(2) with {@code cmd} (through syscall(2), glibc has no wrapper): its result (for
     * MEMBARRIER_CMD_QUERY the supported commands), or -errno.
     */
    int membarrier(int cmd);

    /** gettid(2) through syscall(2): the calling thread's id (never fails). */
    int gettid();

    /** setpriority(2) ({@code which}, {@code who}, {@code prio}): 0 or -errno. */
    int setpriority(int which, int who, int prio);

    /** sched_setscheduler(2) of thread {@code tid} to {@code policy} at {@code priority}: 0 or -errno. */
    int schedSetscheduler(int tid, int policy, int priority);

    /** sched_getcpu(3): the CPU the calling thread runs on, or -errno. */
    int schedGetcpu();

    /** sched_setaffinity(0, …) pinning the calling thread to the single CPU {@code cpu}: 0 or -errno. */
    int pinToCpu(int cpu);

    // ---- libbpf (libbpf.so.1) -----------------------------------------------------------------

    /**
     * Null when libbpf was loaded; otherwise why not (the path tried and the loader's message). The
     * library path is {@code System.getProperty("reuseport.libbpf", "libbpf.so.1")}, loaded lazily on
     * the first libbpf call or on this call. Every other libbpf method returns -ENOSYS (or does nothing,
     * for void ones) while this is non-null.
     */
    String libbpfUnavailableReason();

    /** (libbpf_major_version() << 16) | libbpf_minor_version(). */
    int libbpfVersion();

    /** libbpf_set_print(NULL): libbpf stops printing to stderr (the verifier log is captured per program). */
    void libbpfSilence();

    /** libbpf_num_possible_cpus(): count or -errno. */
    int libbpfNumPossibleCpus();

    /** bpf_object__open_mem(buf, size, NULL): object address or -errno. {@code buf} must outlive the object. */
    long bpfObjectOpenMem(long buf, long size);

    /** bpf_object__load(obj): 0 or -errno. */
    int bpfObjectLoad(long obj);

    /** bpf_object__close(obj). */
    void bpfObjectClose(long obj);

    /** bpf_object__find_program_by_name: program address or -errno (-ENOENT when absent). */
    long bpfObjectFindProgramByName(long obj, String name);

    /** bpf_object__find_map_by_name: map address or -errno (-ENOENT when absent). */
    long bpfObjectFindMapByName(long obj, String name);

    /** bpf_program__fd: fd or -errno. */
    int bpfProgramFd(long prog);

    /** bpf_program__set_expected_attach_type: 0 or -errno. */
    int bpfProgramSetExpectedAttachType(long prog, int attachType);

    /** bpf_program__set_autoload(prog, autoload): 0 or -errno; before bpf_object__load only. */
    int bpfProgramSetAutoload(long prog, boolean autoload);

    /** bpf_program__set_log_buf(prog, buf, size): 0 or -errno. {@code buf} must outlive the load. */
    int bpfProgramSetLogBuf(long prog, long buf, long size);

    /** bpf_program__set_log_level: 0 or -errno. */
    int bpfProgramSetLogLevel(long prog, int level);

    /** bpf_map__fd: fd or -errno. */
    int bpfMapFd(long map);

    /** bpf_map_create(type, name, key_size, value_size, max_entries, NULL): fd or -errno. */
    int bpfMapCreate(int mapType, String name, int keySize, int valueSize, int maxEntries);

    /** bpf_map_update_elem(fd, key, value, flags): 0 or -errno. */
    int bpfMapUpdateElem(int fd, byte[] key, byte[] value, long flags);

    /** bpf_map_lookup_elem(fd, key, valueOut): 0 or -errno; {@code valueOut} is filled on success. */
    int bpfMapLookupElem(int fd, byte[] key, byte[] valueOut);

    /** bpf_map_delete_elem(fd, key): 0 or -errno. */
    int bpfMapDeleteElem(int fd, byte[] key);

    /** bpf_map_freeze(fd): the map becomes read-only for system calls, for good. 0 or -errno. */
    int bpfMapFreeze(int fd);

    /** bpf_map_get_next_key(fd, key or null for the first, nextOut): 0 or -errno (-ENOENT at the end). */
    int bpfMapGetNextKey(int fd, byte[] key, byte[] nextOut);

    /**
     * bpf_obj_get_info_by_fd(fd, info, &len) with {@code len = info.length} on entry: the length the
     * kernel filled in, or -errno.
     */
    int bpfObjGetInfoByFd(int fd, byte[] info);

    /** libbpf_probe_bpf_prog_type(type, NULL): 1 supported, 0 not, or -errno. */
    int libbpfProbeProgType(int progType);

    /** libbpf_probe_bpf_map_type(type, NULL): 1 supported, 0 not, or -errno. */
    int libbpfProbeMapType(int mapType);

    /** libbpf_probe_bpf_helper(progType, helperId, NULL): 1 supported, 0 not, or -errno. */
    int libbpfProbeHelper(int progType, int helperId);

    // --- recvmmsg/sendmmsg/GRO/GSO: ingest ---

    /**
     * recvmmsg(2) into a caller-built array of {@code vlen} {@code struct mmsghdr} at {@code msgvec}
     * (laid out by {@link MsgVec}), without a timeout: the number of messages received, or -errno.
     */
    int recvmmsg(int fd, long msgvec, int vlen, int flags);

    /** sendmmsg(2) of {@code vlen} {@code struct mmsghdr} at {@code msgvec}: the number sent, or -errno. */
    int sendmmsg(int fd, long msgvec, int vlen, int flags);

    /** recvmsg(2) with a caller-built {@code struct msghdr} at {@code msghdr}: bytes received, or -errno. */
    int recvmsgAt(int fd, long msghdr, int flags);

    /** sendmsg(2) with a caller-built {@code struct msghdr} at {@code msghdr}: bytes sent, or -errno. */
    int sendmsgAt(int fd, long msghdr, int flags);

    /**
     * sched_getaffinity(0, …) of the calling thread into {@code maskOut} (a cpu_set_t, CPU n is bit
     * {@code n % 8} of byte {@code n / 8}; 128 bytes cover 1,024 CPUs): the bytes copied into {@code maskOut}, or -errno.
     */
    int schedGetaffinity(byte[] maskOut);

    /** sched_setaffinity(0, …) of the calling thread to the CPUs set in {@code mask}: 0 or -errno. */
    int schedSetaffinity(byte[] mask);

    /**
     * bpf_map__set_max_entries(map, maxEntries) on an opened, not yet loaded object's map (libbpf 0.8):
     * 0 or -errno (-EBUSY once the object is loaded).
     */
    int bpfMapSetMaxEntries(long map, int maxEntries);

    // --- end ingest ---

    // --- epoll: the serving loop ---------------------------------------------------------------------

    /** epoll_create1(flags): a new epoll descriptor or -errno. */
    int epollCreate1(int flags);

    /**
     * epoll_ctl(epfd, op, fd, &amp;ev) with {@code ev = {events, data}} laid out as the platform's
     * {@code struct epoll_event} (packed, 12 bytes, on x86_64; 16 bytes elsewhere): 0 or -errno.
     */
    int epollCtl(int epfd, int op, int fd, int events, long data);

    /**
     * epoll_wait(epfd, events, maxEvents, timeout) into the {@code struct epoll_event} array at
     * {@code address} (room for {@code maxEvents}): how many are ready, or -errno. Blocks up to the timeout;
     * call it from a platform thread.
     */
    int epollWait(int epfd, long address, int maxEvents, int timeoutMillis);

    /** eventfd(initval, flags): a new descriptor or -errno. */
    int eventfd(int initval, int flags);

    // --- end epoll -----------------------------------------------------------------------------------

    // --- systemd: adopting passed descriptors ------------------------------------------------------

    /** fcntl(fd, F_SETFD, FD_CLOEXEC): 0 or -errno (the descriptor's other flags are none on Linux). */
    int setCloexec(int fd);

    /** fcntl(fd, F_SETFL, O_NONBLOCK): 0 or -errno (a socket has no other status flag worth keeping). */
    int setNonBlocking(int fd);

    /** unsetenv(3) of {@code name} in the C library's environment: 0 or -errno. */
    int unsetenv(String name);

    // --- end systemd ---------------------------------------------------------------------------------
}
