package dev.reuseport.sys.internal.jnr;

import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * libc as jnr-ffi binds it for {@code JnrBackend}, pointers as raw addresses.
 *
 * <p>Public, in a package of its own that the module opens: jnr-ffi defines the implementation it
 * generates in a class loader of its own (an unnamed module), which must be able to implement this
 * interface at run time. Nothing else is in this package.
 */
public interface JnrLibC {
    int socket(int domain, int type, int protocol);

    int setsockopt(int fd, int level, int optname, long optval, int optlen);

    int getsockopt(int fd, int level, int optname, long optval, long optlenPtr);

    int bind(int fd, long addr, int addrlen);

    int connect(int fd, long addr, int addrlen);

    int listen(int fd, int backlog);

    int accept4(int fd, long addr, long addrlenPtr, int flags);

    int getsockname(int fd, long addr, long addrlenPtr);

    int getpeername(int fd, long addr, long addrlenPtr);

    int shutdown(int fd, int how);

    int close(int fd);

    /** fcntl's fixed three-int form (F_DUPFD_CLOEXEC). */
    int fcntl(int fd, int cmd, int arg);

    @ssize_t long read(int fd, long buf, @size_t long count);

    @ssize_t long write(int fd, long buf, @size_t long count);

    // recvfrom and sendto (six arguments) are called through jffi: see the class comment.

    @ssize_t long sendmsg(int fd, long msghdr, int flags);

    @ssize_t long recvmsg(int fd, long msghdr, int flags);

    int poll(long fds, long nfds, int timeout);

    int uname(long buf);

    @IgnoreError
    int getuid();

    /** syscall(2) with three int arguments (on x86_64 and aarch64 they travel in registers either way). */
    long syscall(long number, int a, int b, int c);

    int sched_getcpu();

    int setpriority(int which, int who, int prio);

    int sched_setscheduler(int pid, int policy, long param);

    int sched_setaffinity(int pid, @size_t long cpusetsize, long mask);

    @IgnoreError
    long malloc(@size_t long size);

    @IgnoreError
    void free(long ptr);

    // --- recvmmsg/sendmmsg/GRO/GSO: ingest ---

    int recvmmsg(int fd, long msgvec, int vlen, int flags, long timeout);

    int sendmmsg(int fd, long msgvec, int vlen, int flags);

    int sched_getaffinity(int pid, @size_t long cpusetsize, long mask);

    // --- end ingest ---

    // --- epoll: the serving loop ---
    int epoll_create1(int flags);

    int epoll_ctl(int epfd, int op, int fd, long event);

    int epoll_wait(int epfd, long events, int maxevents, int timeout);

    int eventfd(int initval, int flags);
    // --- end epoll ---

    // --- systemd ---
    int unsetenv(String name);
    // --- end systemd ---
}
