package dev.reuseport.sys.internal;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Library;
import com.kenai.jffi.MemoryIO;
import com.kenai.jffi.Type;
import dev.reuseport.sys.internal.jnr.JnrLibBpf;
import jnr.ffi.LastError;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import java.nio.charset.StandardCharsets;

/**
 * The libbpf family of {@link JnrBackend}: libbpf loaded on first use (its absence is a reason, never an
 * error), and each of the backend's bpf methods, with the backend's conventions (a result or -errno, never
 * an exception; Java arrays staged through the calling thread's scratch block). The backend delegates
 * every bpf method here in one call.
 */
final class JnrBpf {
    private static final int ENOENT = 2;
    private static final int EINVAL = 22;
    private static final int ENOSYS = 38;

    private static final MemoryIO IO = MemoryIO.getInstance();
    private static final Invoker FFI = Invoker.getInstance();
    /** int bpf_map_create(enum bpf_map_type, const char *, __u32, __u32, __u32, const struct bpf_map_create_opts *). */
    private static final CallContext BPF_MAP_CREATE = CallContext.getCallContext(Type.SINT,
            new Type[] {Type.SINT, Type.POINTER, Type.UINT, Type.UINT, Type.UINT, Type.POINTER},
            CallingConvention.DEFAULT, true);

    /** The runtime jnr saves errno in (libc's: the calling thread's errno is one per thread). */
    private final Runtime runtime;
    private final ThreadLocal<JnrScratch> scratch;

    private final Object libbpfLock = new Object();
    private volatile boolean libbpfTried;
    private volatile JnrLibBpf libbpf;
    private long bpfMapCreateFn;
    private volatile String libbpfReason;

    JnrBpf(Runtime runtime, ThreadLocal<JnrScratch> scratch) {
        this.runtime = runtime;
        this.scratch = scratch;
    }

    private int errno() {
        return LastError.getLastError(runtime);
    }

    private static int align8(int n) {
        return (n + 7) & ~7;
    }

    private static byte[] cString(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        byte[] c = new byte[utf8.length + 1];
        System.arraycopy(utf8, 0, c, 0, utf8.length);
        return c;
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

    String libbpfUnavailableReason() {
        bpf();
        return libbpfReason;
    }

    int libbpfVersion() {
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

    void libbpfSilence() {
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

    int libbpfNumPossibleCpus() {
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

    long bpfObjectOpenMem(long buf, long size) {
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

    int bpfObjectLoad(long obj) {
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

    void bpfObjectClose(long obj) {
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

    long bpfObjectFindProgramByName(long obj, String name) {
        return findByName(obj, name, false);
    }

    long bpfObjectFindMapByName(long obj, String name) {
        return findByName(obj, name, true);
    }

    /** bpf_object__find_map_by_name or bpf_object__find_program_by_name with a C copy of {@code name}. */
    private long findByName(long obj, String name, boolean map) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        byte[] cname = cString(name);
        JnrScratch s = scratch.get();
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

    int bpfProgramFd(long prog) {
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

    int bpfProgramSetExpectedAttachType(long prog, int attachType) {
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

    int bpfProgramSetAutoload(long prog, boolean autoload) {
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

    int bpfProgramSetLogBuf(long prog, long buf, long size) {
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

    int bpfProgramSetLogLevel(long prog, int level) {
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

    int bpfMapFreeze(int fd) {
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

    int bpfMapFd(long map) {
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

    int bpfMapCreate(int mapType, String name, int keySize, int valueSize, int maxEntries) {
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
        JnrScratch s = scratch.get();
        long a = s.acquire(cname.length);
        try {
            IO.putByteArray(a, cname, 0, cname.length);
            return bpfResult((int) FFI.invokeN6(BPF_MAP_CREATE, fn, mapType, a, keySize, valueSize, maxEntries, 0L));
        } finally {
            s.release(a);
        }
    }

    int bpfMapUpdateElem(int fd, byte[] key, byte[] value, long flags) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        int keyRoom = align8(key.length);
        JnrScratch s = scratch.get();
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

    int bpfMapLookupElem(int fd, byte[] key, byte[] valueOut) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        int keyRoom = align8(key.length);
        JnrScratch s = scratch.get();
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

    int bpfMapDeleteElem(int fd, byte[] key) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        JnrScratch s = scratch.get();
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

    int bpfMapGetNextKey(int fd, byte[] key, byte[] nextOut) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        int keyRoom = key == null ? 0 : align8(key.length);
        JnrScratch s = scratch.get();
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

    int bpfObjGetInfoByFd(int fd, byte[] info) {
        JnrLibBpf b = bpf();
        if (b == null) {
            return -ENOSYS;
        }
        int room = align8(info.length);
        JnrScratch s = scratch.get();
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

    int libbpfProbeProgType(int progType) {
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

    int libbpfProbeMapType(int mapType) {
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

    int libbpfProbeHelper(int progType, int helperId) {
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

    int bpfMapSetMaxEntries(long map, int maxEntries) {
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
}
