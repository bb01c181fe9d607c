package dev.reuseport.bpf;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.LibBpf;
import dev.reuseport.sys.internal.NativeMemory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A BPF ELF object: opened from bytes (libbpf parses it; no program is in the kernel yet), then
 * {@link #load(String...) loaded}, which creates its maps and programs and owns their descriptors until
 * {@link #close()}. The ELF image and each program's verifier-log buffer stay allocated for as long as
 * libbpf may read or write them.
 */
public final class BpfObject implements AutoCloseable {
    /** Verifier log buffer per program: the kernel's tail of a rejection is what matters. */
    static final int LOG_SIZE = 1 << 20;

    private final String name;
    private final NativeMemory elf;
    private final long obj;
    private final Map<String, NativeMemory> logs = new LinkedHashMap<>();
    private final Map<String, BpfProgram> programs = new HashMap<>();
    private final Map<String, BpfMap> maps = new HashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private boolean loaded;

    private BpfObject(String name, NativeMemory elf, long obj) {
        this.name = name;
        this.elf = elf;
        this.obj = obj;
    }

    /**
     * Opens an object from an ELF image ({@code bpf_object__open_mem}): libbpf parses it; nothing is in
     * the kernel until {@link #load(String...)}. The image is copied into native memory that stays
     * allocated until {@link #close()}.
     *
     * @param name  a name for messages, e.g. the resource name
     * @param image the ELF bytes (a clang {@code -target bpf} object)
     * @return the open object, which the caller closes
     * @throws IllegalStateException when libbpf could not be loaded (the message says why)
     * @throws NativeException when libbpf cannot parse the image
     */
    public static BpfObject open(String name, byte[] image) throws NativeException {
        LibBpf.ensureAvailable();
        LibBpf.silence();
        NativeMemory elf = NativeMemory.copyOf(image);
        try {
            return new BpfObject(name, elf, LibBpf.objectOpenMem(elf));
        } catch (NativeException | RuntimeException e) {
            elf.close();
            throw e;
        }
    }

    /**
     * Reads a resource of this module's package, e.g. {@link SteerProgram#OBJECT}, with
     * {@link Class#getResourceAsStream(String)} on this class: it works from the class path and from the
     * module path alike.
     *
     * @param name the resource name, relative to {@code dev/reuseport/bpf}
     * @return its bytes
     * @throws IOException when there is no such resource, or reading it fails
     */
    public static byte[] resource(String name) throws IOException {
        try (InputStream in = BpfObject.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("BPF object " + name + " is not a resource beside "
                        + BpfObject.class.getName() + " (in the reuseport-bpf JAR)");
            }
            return in.readAllBytes();
        }
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("BPF object " + name + " is closed");
        }
    }

    /**
     * Sets a program's expected attach type before {@link #load(String...)}; the verifier checks the
     * program against it (for an sk_reuseport program: whether it may migrate).
     *
     * @param program    the program's name in the object
     * @param attachType a {@code BPF_*} attach type, e.g. 39 (BPF_SK_REUSEPORT_SELECT) or 40
     *                   (BPF_SK_REUSEPORT_SELECT_OR_MIGRATE, Linux 5.14)
     * @throws IllegalStateException when the object is closed
     * @throws NativeException when the object has no such program (ENOENT) or libbpf refuses
     */
    public void expectedAttachType(String program, int attachType) throws NativeException {
        ensureOpen();
        LibBpf.setExpectedAttachType(LibBpf.findProgram(obj, program), attachType);
    }

    /**
     * Chooses whether {@link #load(String...)} loads a program ({@code bpf_program__set_autoload}): a
     * program left out is never given to the verifier, so an object with several variants costs the load
     * of the one used only. Every program loads by default.
     *
     * @param program  the program's name in the object
     * @param autoload false to leave it out of the load
     * @throws IllegalStateException when the object is closed or already loaded
     * @throws NativeException when the object has no such program (ENOENT) or libbpf refuses
     */
    public void autoload(String program, boolean autoload) throws NativeException {
        ensureOpen();
        if (loaded) {
            throw new IllegalStateException("BPF object " + name + " is loaded; choose the programs before load()");
        }
        LibBpf.setAutoload(LibBpf.findProgram(obj, program), autoload);
    }

    /**
     * Loads every program and creates every map ({@code bpf_object__load}); after that the object owns
     * their descriptors. The named programs get a verifier-log buffer, which libbpf fills only when the
     * load fails. Needs CAP_BPF (or CAP_SYS_ADMIN) and, for sk_reuseport programs, Linux 4.19.
     *
     * @param programNames the programs whose verifier log a rejection should report
     * @throws IllegalStateException when the object is closed
     * @throws BpfLoadException when the kernel rejects a program: the errno, the log's last meaningful
     *                          line in the message, the whole log in {@link BpfLoadException#fullLog()}
     * @throws NativeException when a named program does not exist (ENOENT)
     */
    public void load(String... programNames) throws NativeException {
        ensureOpen();
        for (String p : programNames) {
            long prog = LibBpf.findProgram(obj, p);
            NativeMemory log = NativeMemory.allocate(LOG_SIZE);
            logs.put(p, log);
            LibBpf.setLog(prog, log, 0); // level 0 with a buffer: libbpf fills it only when the load fails
        }
        int r = LibBpf.objectLoad(obj);
        if (r < 0) {
            String failed = null;
            String text = "";
            for (Map.Entry<String, NativeMemory> e : logs.entrySet()) {
                String t = cString(e.getValue());
                if (!t.isBlank()) {
                    failed = e.getKey();
                    text = t;
                    break;
                }
            }
            throw new BpfLoadException(failed != null ? failed : String.join(", ", programNames), -r, text);
        }
        loaded = true;
        for (NativeMemory m : logs.values()) {
            m.close();
        }
        logs.clear();
    }

    private static String cString(NativeMemory m) {
        byte[] b = m.read(0, (int) m.size());
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    /**
     * Sets a map's capacity before {@link #load} creates it ({@code bpf_map__set_max_entries}).
     *
     * @param mapName    the map's name in the object
     * @param maxEntries the capacity, at least 1
     * @throws IllegalArgumentException when {@code maxEntries} is below 1
     * @throws IllegalStateException when the object is closed or already loaded
     * @throws NativeException when there is no such map (ENOENT) or libbpf refuses
     */
    public void maxEntries(String mapName, int maxEntries) throws NativeException {
        ensureOpen();
        if (loaded) {
            throw new IllegalStateException("BPF object " + name + " is loaded; set map sizes before load()");
        }
        if (maxEntries < 1) {
            throw new IllegalArgumentException("max_entries " + maxEntries + " for map " + mapName
                    + "; accepted: 1 or more");
        }
        LibBpf.mapSetMaxEntries(LibBpf.findMap(obj, mapName), maxEntries);
    }

    /**
     * A loaded program of this object; the same instance on every call.
     *
     * @param programName the program's name (its ELF section function name)
     * @return the program, whose descriptor this object owns
     * @throws IllegalStateException when the object is closed or not loaded yet
     * @throws NativeException when there is no such program (ENOENT)
     */
    public BpfProgram program(String programName) throws NativeException {
        ensureLoaded();
        BpfProgram p = programs.get(programName);
        if (p == null) {
            p = new BpfProgram(programName, LibBpf.programFd(LibBpf.findProgram(obj, programName)));
            programs.put(programName, p);
        }
        return p;
    }

    /**
     * A map this object created; the same instance on every call.
     *
     * @param mapName the map's name in the object
     * @return the map, whose descriptor this object owns
     * @throws IllegalStateException when the object is closed or not loaded yet
     * @throws NativeException when there is no such map (ENOENT) or its info cannot be read
     */
    public BpfMap map(String mapName) throws NativeException {
        ensureLoaded();
        BpfMap m = maps.get(mapName);
        if (m == null) {
            m = new BpfMap(mapName, LibBpf.mapFd(LibBpf.findMap(obj, mapName)));
            maps.put(mapName, m);
        }
        return m;
    }

    /** Which of {@code names} the load gave a descriptor (the others were left out or failed). */
    List<String> loadedPrograms(List<String> names) {
        ensureLoaded();
        List<String> out = new ArrayList<>();
        for (String n : names) {
            try {
                if (LibBpf.programFd(LibBpf.findProgram(obj, n)) >= 0) {
                    out.add(n);
                }
            } catch (NativeException notLoaded) {
                // bpf_program__fd says EINVAL for a program the load left out
            }
        }
        return out;
    }

    /** The names of the maps fetched so far. */
    List<String> mapNames() {
        return new ArrayList<>(maps.keySet());
    }

    private void ensureLoaded() {
        ensureOpen();
        if (!loaded) {
            throw new IllegalStateException("BPF object " + name + " is not loaded; call load() first");
        }
    }

    /**
     * The name this object was opened under.
     *
     * @return the name given to {@link #open(String, byte[])}
     */
    public String name() {
        return name;
    }

    /**
     * Closes the object: its program and map descriptors are released. Programs attached to a reuseport
     * group keep running until detached; maps they use stay alive with them.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        LibBpf.objectClose(obj);
        for (NativeMemory m : logs.values()) {
            m.close();
        }
        elf.close();
    }
}
