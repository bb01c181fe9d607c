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
 * The libbpf family of {@link FfmBackend}: libbpf opened on first use (its absence is a reason, never an
 * error) and each of the backend's bpf methods (a result or -errno). The backend delegates every bpf
 * method here in one call.
 */
@SuppressWarnings("restricted")
final class FfmBpf {
    private FfmBpf() {
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

    static String libbpfUnavailableReason() {
        return Bpf.REASON;
    }

    static int libbpfVersion() {
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

    static void libbpfSilence() {
        if (Bpf.REASON != null) {
            return;
        }
        try {
            MemorySegment ignored = (MemorySegment) Bpf.SET_PRINT.invokeExact(MemorySegment.NULL);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int libbpfNumPossibleCpus() {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        try {
            return (int) Bpf.NUM_POSSIBLE_CPUS.invokeExact();
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static long bpfObjectOpenMem(long buf, long size) {
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

    static int bpfObjectLoad(long obj) {
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

    static void bpfObjectClose(long obj) {
        if (Bpf.REASON != null || obj == 0) {
            return;
        }
        try {
            Bpf.OBJECT_CLOSE.invokeExact(MemorySegment.ofAddress(obj));
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static long bpfObjectFindProgramByName(long obj, String name) {
        return findByName(Bpf.FIND_PROGRAM, obj, name);
    }

    static long bpfObjectFindMapByName(long obj, String name) {
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

    static int bpfProgramFd(long prog) {
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

    static int bpfProgramSetExpectedAttachType(long prog, int attachType) {
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

    static int bpfProgramSetAutoload(long prog, boolean autoload) {
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

    static int bpfProgramSetLogBuf(long prog, long buf, long size) {
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

    static int bpfProgramSetLogLevel(long prog, int level) {
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

    static int bpfMapFreeze(int fd) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        try {
            return (int) Bpf.MAP_FREEZE.invokeExact(fd);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int bpfMapFd(long map) {
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

    static int bpfMapCreate(int mapType, String name, int keySize, int valueSize, int maxEntries) {
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

    static int bpfMapUpdateElem(int fd, byte[] key, byte[] value, long flags) {
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

    static int bpfMapLookupElem(int fd, byte[] key, byte[] valueOut) {
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

    static int bpfMapDeleteElem(int fd, byte[] key) {
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

    static int bpfMapGetNextKey(int fd, byte[] key, byte[] nextOut) {
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

    static int bpfObjGetInfoByFd(int fd, byte[] info) {
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

    static int libbpfProbeProgType(int progType) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        try {
            return (int) Bpf.PROBE_PROG.invokeExact(progType, MemorySegment.NULL);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int libbpfProbeMapType(int mapType) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        try {
            return (int) Bpf.PROBE_MAP.invokeExact(mapType, MemorySegment.NULL);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static int libbpfProbeHelper(int progType, int helperId) {
        if (Bpf.REASON != null) {
            return -ENOSYS;
        }
        try {
            return (int) Bpf.PROBE_HELPER.invokeExact(progType, helperId, MemorySegment.NULL);
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

    static int bpfMapSetMaxEntries(long map, int maxEntries) {
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
}
