package dev.reuseport.sys.internal;

import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;

/**
 * The libbpf functions reuseport needs, from the system's {@code libbpf.so.1} (or the path in
 * {@code -Dreuseport.libbpf}). Object, program and map handles are native addresses owned by the
 * {@code dev.reuseport.bpf} types that close them. Each failure is a {@link NativeException} naming the
 * libbpf function and the errno.
 */
public final class LibBpf {
    /** The property naming the libbpf shared object to load. */
    public static final String PATH_PROPERTY = "reuseport.libbpf";
    /** BPF_PROG_TYPE_SK_REUSEPORT. */
    public static final int PROG_TYPE_SK_REUSEPORT = 21;
    /** BPF_MAP_TYPE_ARRAY. */
    public static final int MAP_TYPE_ARRAY = 2;
    /** BPF_MAP_TYPE_REUSEPORT_SOCKARRAY. */
    public static final int MAP_TYPE_REUSEPORT_SOCKARRAY = 20;
    /** BPF_SK_REUSEPORT_SELECT. */
    public static final int ATTACH_SK_REUSEPORT_SELECT = 39;
    /** BPF_SK_REUSEPORT_SELECT_OR_MIGRATE. */
    public static final int ATTACH_SK_REUSEPORT_SELECT_OR_MIGRATE = 40;
    /** BPF_FUNC_sk_select_reuseport. */
    public static final int FUNC_SK_SELECT_REUSEPORT = 82;
    /** BPF_ANY. */
    public static final long BPF_ANY = 0;
    /** BPF_NOEXIST. */
    public static final long BPF_NOEXIST = 1;
    /** BPF_EXIST. */
    public static final long BPF_EXIST = 2;

    private static final NativeBackend B = Native.backend();

    private LibBpf() {
    }

    /** Null when libbpf is loaded; otherwise the path tried and why it failed. */
    public static String unavailableReason() {
        return B.libbpfUnavailableReason();
    }

    /** Whether libbpf is loaded. */
    public static boolean isAvailable() {
        return unavailableReason() == null;
    }

    /** Throws with the reason when libbpf is not loaded. */
    public static void ensureAvailable() {
        String why = unavailableReason();
        if (why != null) {
            throw new IllegalStateException("libbpf is not available: " + why);
        }
    }

    /** libbpf's version, e.g. {@code 1.1}. */
    public static String version() {
        ensureAvailable();
        int v = B.libbpfVersion();
        return (v >>> 16) + "." + (v & 0xffff);
    }

    /** Stops libbpf's own printing to stderr; verifier logs are captured per program instead. */
    public static void silence() {
        B.libbpfSilence();
    }

    /** The number of possible CPUs, the stride of per-CPU map values. */
    public static int possibleCpus() throws NativeException {
        return Sys.check("libbpf_num_possible_cpus", B.libbpfNumPossibleCpus());
    }

    private static long checkPtr(String call, long r, String detail) throws NativeException {
        if (r < 0) {
            throw new NativeException(call, (int) -r, detail);
        }
        return r;
    }

    private static int check(String call, int r, String detail) throws NativeException {
        if (r < 0) {
            throw new NativeException(call, -r, detail);
        }
        return r;
    }

    /** bpf_object__open_mem over an ELF image that must stay allocated until the object is closed. */
    public static long objectOpenMem(NativeMemory elf) throws NativeException {
        return checkPtr("bpf_object__open_mem", B.bpfObjectOpenMem(elf.address(), elf.size()), null);
    }

    /** bpf_object__load: the raw result (0 or -errno), so the caller can attach the verifier log. */
    public static int objectLoad(long obj) {
        return B.bpfObjectLoad(obj);
    }

    /** bpf_object__close. */
    public static void objectClose(long obj) {
        B.bpfObjectClose(obj);
    }

    /** bpf_object__find_program_by_name. */
    public static long findProgram(long obj, String name) throws NativeException {
        return checkPtr("bpf_object__find_program_by_name", B.bpfObjectFindProgramByName(obj, name), "program " + name);
    }

    /** bpf_object__find_map_by_name. */
    public static long findMap(long obj, String name) throws NativeException {
        return checkPtr("bpf_object__find_map_by_name", B.bpfObjectFindMapByName(obj, name), "map " + name);
    }

    /** bpf_program__fd. */
    public static int programFd(long prog) throws NativeException {
        return check("bpf_program__fd", B.bpfProgramFd(prog), null);
    }

    /** bpf_program__set_expected_attach_type. */
    public static void setExpectedAttachType(long prog, int type) throws NativeException {
        check("bpf_program__set_expected_attach_type", B.bpfProgramSetExpectedAttachType(prog, type), null);
    }

    /** bpf_program__set_autoload: whether bpf_object__load loads (and the verifier checks) the program. */
    public static void setAutoload(long prog, boolean autoload) throws NativeException {
        check("bpf_program__set_autoload", B.bpfProgramSetAutoload(prog, autoload), null);
    }

    /** bpf_program__set_log_buf and bpf_program__set_log_level. */
    public static void setLog(long prog, NativeMemory buf, int level) throws NativeException {
        check("bpf_program__set_log_buf", B.bpfProgramSetLogBuf(prog, buf.address(), buf.size()), null);
        check("bpf_program__set_log_level", B.bpfProgramSetLogLevel(prog, level), null);
    }

    /** bpf_map__fd. */
    public static int mapFd(long map) throws NativeException {
        return check("bpf_map__fd", B.bpfMapFd(map), null);
    }

    /** bpf_map_create; returns the new map's fd. */
    public static int mapCreate(int type, String name, int keySize, int valueSize, int maxEntries)
            throws NativeException {
        return check("bpf_map_create", B.bpfMapCreate(type, name, keySize, valueSize, maxEntries), "map type " + type);
    }

    /** bpf_map_update_elem. */
    public static void mapUpdate(int fd, byte[] key, byte[] value, long flags, String what) throws NativeException {
        check("bpf_map_update_elem", B.bpfMapUpdateElem(fd, key, value, flags), what);
    }

    /** bpf_map_lookup_elem; false when the key is absent (ENOENT). */
    public static boolean mapLookup(int fd, byte[] key, byte[] valueOut, String what) throws NativeException {
        int r = B.bpfMapLookupElem(fd, key, valueOut);
        if (r == -Errno.ENOENT) {
            return false;
        }
        check("bpf_map_lookup_elem", r, what);
        return true;
    }

    /** bpf_map_delete_elem; false when the key is absent (ENOENT). */
    public static boolean mapDelete(int fd, byte[] key, String what) throws NativeException {
        int r = B.bpfMapDeleteElem(fd, key);
        if (r == -Errno.ENOENT) {
            return false;
        }
        check("bpf_map_delete_elem", r, what);
        return true;
    }

    /** bpf_map_freeze: the map is read-only for system calls from now on (programs may still write it). */
    public static void mapFreeze(int fd, String what) throws NativeException {
        check("bpf_map_freeze", B.bpfMapFreeze(fd), what);
    }

    /** bpf_map_get_next_key; false at the end. {@code key} null asks for the first key. */
    public static boolean mapNextKey(int fd, byte[] key, byte[] nextOut) throws NativeException {
        int r = B.bpfMapGetNextKey(fd, key, nextOut);
        if (r == -Errno.ENOENT) {
            return false;
        }
        check("bpf_map_get_next_key", r, null);
        return true;
    }

    /** bpf_obj_get_info_by_fd into {@code info}; returns the length filled. */
    public static int objectInfo(int fd, byte[] info) throws NativeException {
        return check("bpf_obj_get_info_by_fd", B.bpfObjGetInfoByFd(fd, info), null);
    }

    /** libbpf_probe_bpf_prog_type: the raw result (1 yes, 0 no, negative errno). */
    public static int probeProgType(int type) {
        return B.libbpfProbeProgType(type);
    }

    /** libbpf_probe_bpf_map_type: the raw result (1 yes, 0 no, negative errno). */
    public static int probeMapType(int type) {
        return B.libbpfProbeMapType(type);
    }

    /** libbpf_probe_bpf_helper: the raw result (1 yes, 0 no, negative errno). */
    public static int probeHelper(int progType, int helper) {
        return B.libbpfProbeHelper(progType, helper);
    }

    // --- recvmmsg/sendmmsg/GRO/GSO: ingest ---

    /**
     * bpf_map__set_max_entries on a map of an opened object, before it is loaded.
     *
     * @param map        the map (from {@link #findMap})
     * @param maxEntries the capacity the kernel map gets at load
     * @throws NativeException with EBUSY after the load, ENOSYS when libbpf lacks the function
     */
    public static void mapSetMaxEntries(long map, int maxEntries) throws NativeException {
        check("bpf_map__set_max_entries", B.bpfMapSetMaxEntries(map, maxEntries), null);
    }

    // --- end ingest ---
}
