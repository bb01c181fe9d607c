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
 * The socket family of {@link FfmBackend}: socket, options, bind, connect, listen, accept, addresses,
 * shutdown and close, read and write, datagrams, descriptors passed by SCM_RIGHTS, poll. Each method is
 * the backend's method of the same name (a result or -errno); the backend delegates to it in one call.
 */
@SuppressWarnings("restricted")
final class FfmSockets {
    private FfmSockets() {
    }

    // ---- sockets ------------------------------------------------------------------------------

    static int socket(int domain, int type, int protocol) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.SOCKET.invokeExact(s.state, domain, type, protocol);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int setsockopt(int fd, int level, int option, byte[] value, int len) {
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

    static int getsockopt(int fd, int level, int option, byte[] value) {
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

    static int bind(int fd, byte[] sockaddr, int len) {
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

    static int connect(int fd, byte[] sockaddr, int len) {
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

    static int listen(int fd, int backlog) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.LISTEN.invokeExact(s.state, fd, backlog);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int accept4(int fd, byte[] peerOut, int flags) {
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

    static int getsockname(int fd, byte[] out) {
        Scratch s = scratch();
        try {
            s.len.set(JAVA_INT, 0, SOCKADDR_MAX);
            int r = (int) Libc.GETSOCKNAME.invokeExact(s.state, fd, s.addr, s.len);
            return r < 0 ? err(s.state) : copyAddrOut(s, out);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int getpeername(int fd, byte[] out) {
        Scratch s = scratch();
        try {
            s.len.set(JAVA_INT, 0, SOCKADDR_MAX);
            int r = (int) Libc.GETPEERNAME.invokeExact(s.state, fd, s.addr, s.len);
            return r < 0 ? err(s.state) : copyAddrOut(s, out);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int shutdown(int fd, int how) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.SHUTDOWN.invokeExact(s.state, fd, how);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int close(int fd) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.CLOSE.invokeExact(s.state, fd);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int dupCloexec(int fd) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.FCNTL.invokeExact(s.state, fd, F_DUPFD_CLOEXEC, 0);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int fileStatusFlags(int fd) {
        Scratch s = scratch();
        try {
            int r = (int) Libc.FCNTL.invokeExact(s.state, fd, 3 /* F_GETFL */, 0);
            return r < 0 ? err(s.state) : r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int read(int fd, long address, int len) {
        Scratch s = scratch();
        try {
            long r = (long) Libc.READ.invokeExact(s.state, fd, MemorySegment.ofAddress(address), (long) len);
            return r < 0 ? err(s.state) : (int) r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int write(int fd, long address, int len) {
        Scratch s = scratch();
        try {
            long r = (long) Libc.WRITE.invokeExact(s.state, fd, MemorySegment.ofAddress(address), (long) len);
            return r < 0 ? err(s.state) : (int) r;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int recvfrom(int fd, long address, int len, int flags, byte[] peerOut) {
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

    static int sendto(int fd, long address, int len, int flags, byte[] sockaddr, int addrLen) {
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

    static int sendmsgFds(int fd, byte[] data, int len, int[] fds, int nfds) {
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

    static int recvmsgFds(int fd, byte[] data, int[] fdsOut) {
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

    static int poll(int fd, int events, int timeoutMillis) {
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
}
