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
 * {@link #load() loaded}, which creates its maps and programs and owns their descriptors until
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

    /** Opens an object from an ELF image. */
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

    /** Reads a classpath resource (e.g. {@code steer.bpf.o} beside this class). */
    public static byte[] resource(String name) throws IOException {
        try (InputStream in = BpfObject.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("BPF object " + name + " is not on the class path beside "
                        + BpfObject.class.getName());
            }
            return in.readAllBytes();
        }
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("BPF object " + name + " is closed");
        }
    }

    /** Sets a program's expected attach type before loading (e.g. SELECT_OR_MIGRATE). */
    public void expectedAttachType(String program, int attachType) throws NativeException {
        ensureOpen();
        LibBpf.setExpectedAttachType(LibBpf.findProgram(obj, program), attachType);
    }

    /**
     * Loads every program and creates every map. A verifier rejection throws {@link BpfLoadException}
     * with the program's log.
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

    /** A loaded program by name. */
    public BpfProgram program(String programName) throws NativeException {
        ensureLoaded();
        BpfProgram p = programs.get(programName);
        if (p == null) {
            p = new BpfProgram(programName, LibBpf.programFd(LibBpf.findProgram(obj, programName)));
            programs.put(programName, p);
        }
        return p;
    }

    /** A created map by name. */
    public BpfMap map(String mapName) throws NativeException {
        ensureLoaded();
        BpfMap m = maps.get(mapName);
        if (m == null) {
            m = new BpfMap(mapName, LibBpf.mapFd(LibBpf.findMap(obj, mapName)));
            maps.put(mapName, m);
        }
        return m;
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

    /** The object's name. */
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
