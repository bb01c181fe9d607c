package dev.reuseport.bpf;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.LibBpf;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A map of a loaded {@link BpfObject} (its descriptor closes with the object). Checks key and value
 * sizes on every call; errors name the bpf command and the map.
 *
 * <p>Keys and values are the raw bytes the kernel stores, in native byte order. Every call is one or more
 * {@code bpf(2)} map commands on the descriptor; none is atomic with another.
 */
public class BpfMap {
    private final String name;
    private final int fd;
    private final int type;
    private final int keySize;
    private final int valueSize;
    private final int maxEntries;

    BpfMap(String name, int fd) throws NativeException {
        this.name = name;
        this.fd = fd;
        byte[] raw = new byte[80];
        LibBpf.objectInfo(fd, raw);
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.nativeOrder());
        this.type = b.getInt(0);
        this.keySize = b.getInt(8);
        this.valueSize = b.getInt(12);
        this.maxEntries = b.getInt(16);
    }

    /** A view of the same map, for typed subclasses. */
    BpfMap(BpfMap map) {
        this.name = map.name;
        this.fd = map.fd;
        this.type = map.type;
        this.keySize = map.keySize;
        this.valueSize = map.valueSize;
        this.maxEntries = map.maxEntries;
    }

    /**
     * The map's name.
     *
     * @return its name in the BPF object (or the name it was adopted under)
     */
    public String name() {
        return name;
    }

    /**
     * The map's file descriptor. It belongs to the object (or the adopted program) and is closed with
     * it: do not close it, and do not use it after that.
     *
     * @return the descriptor number
     */
    public int fd() {
        return fd;
    }

    /**
     * The map's type, as the kernel reports it ({@code bpf_map_info.type}).
     *
     * @return a {@code BPF_MAP_TYPE_*} value, e.g. 2 for an array, 20 for a reuseport socket array
     */
    public int type() {
        return type;
    }

    /**
     * The size every key must have.
     *
     * @return the key size in bytes
     */
    public int keySize() {
        return keySize;
    }

    /**
     * The size of a value as the map declares it. For a per-CPU map user space reads and writes one such
     * value per possible CPU, each padded to 8 bytes.
     *
     * @return the value size in bytes (per CPU for a per-CPU map)
     */
    public int valueSize() {
        return valueSize;
    }

    /**
     * The map's capacity ({@code max_entries}): the number of entries of an array, the most a hash map
     * holds.
     *
     * @return the capacity
     */
    public int maxEntries() {
        return maxEntries;
    }

    static byte[] u32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(0, v).array();
    }

    static byte[] u64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(0, v).array();
    }

    private void sizes(byte[] key, byte[] value, int valueStride) {
        if (key.length != keySize) {
            throw new IllegalArgumentException("key of " + key.length + " bytes for map " + name + "; accepted: "
                    + keySize + " bytes");
        }
        if (value != null && value.length != valueStride) {
            throw new IllegalArgumentException("value of " + value.length + " bytes for map " + name
                    + "; accepted: " + valueStride + " bytes");
        }
    }

    /**
     * Creates or replaces one entry ({@code bpf_map_update_elem}). The kernel replaces the value
     * atomically for a reader in a program.
     *
     * @param key   the key, {@link #keySize()} bytes
     * @param value the value, {@link #valueSize()} bytes
     * @param flags {@code 0} (BPF_ANY: create or replace), {@code 1} (BPF_NOEXIST: create only) or
     *              {@code 2} (BPF_EXIST: replace only)
     * @throws IllegalArgumentException when the key or value has the wrong size
     * @throws NativeException when the kernel refuses, e.g. EEXIST for BPF_NOEXIST on a present key,
     *                         ENOENT for BPF_EXIST on an absent one, E2BIG when a hash map is full
     */
    public void update(byte[] key, byte[] value, long flags) throws NativeException {
        sizes(key, value, valueSize);
        LibBpf.mapUpdate(fd, key, value, flags, "map " + name);
    }

    /**
     * Reads one entry ({@code bpf_map_lookup_elem}) into a buffer of a size the caller chooses: a per-CPU
     * map returns {@code round_up(valueSize, 8) * possible CPUs} bytes.
     *
     * @param key        the key, {@link #keySize()} bytes
     * @param valueBytes how many bytes the kernel writes for this map
     * @return a new array of {@code valueBytes} bytes, or null when the key is absent
     * @throws IllegalArgumentException when the key has the wrong size
     * @throws NativeException when the lookup fails other than with ENOENT
     */
    public byte[] lookup(byte[] key, int valueBytes) throws NativeException {
        byte[] out = new byte[valueBytes];
        sizes(key, out, valueBytes);
        return LibBpf.mapLookup(fd, key, out, "map " + name) ? out : null;
    }

    /**
     * Reads one entry of a map that is not per-CPU ({@code bpf_map_lookup_elem}).
     *
     * @param key the key, {@link #keySize()} bytes
     * @return a new array of {@link #valueSize()} bytes, or null when the key is absent
     * @throws IllegalArgumentException when the key has the wrong size
     * @throws NativeException when the lookup fails other than with ENOENT
     */
    public byte[] lookup(byte[] key) throws NativeException {
        return lookup(key, valueSize);
    }

    /**
     * Deletes one entry ({@code bpf_map_delete_elem}). Array maps have no deletable entries: the kernel
     * answers EINVAL.
     *
     * @param key the key, {@link #keySize()} bytes
     * @return true when an entry was deleted, false when the key was absent
     * @throws IllegalArgumentException when the key has the wrong size
     * @throws NativeException when the kernel refuses other than with ENOENT (EINVAL for an array map)
     */
    public boolean delete(byte[] key) throws NativeException {
        sizes(key, null, 0);
        return LibBpf.mapDelete(fd, key, "map " + name);
    }

    /**
     * Counts the keys present by walking {@code bpf_map_get_next_key}. Meant for hash maps (an array map
     * always has {@link #maxEntries()} keys); not a snapshot while programs add or remove entries, and
     * the walk stops after {@code maxEntries() + 1} keys so that a changing map cannot keep it going.
     *
     * @return the number of keys seen
     * @throws NativeException when a {@code bpf_map_get_next_key} fails other than at the end
     */
    public int countKeys() throws NativeException {
        byte[] key = null;
        byte[] next = new byte[keySize];
        int n = 0;
        while (LibBpf.mapNextKey(fd, key, next)) {
            n++;
            key = next.clone();
            if (n > maxEntries) {
                break;
            }
        }
        return n;
    }

    /**
     * Deletes every key of a hash map, first key first until none is left. Entries a program adds
     * meanwhile are deleted too or remain, depending on when they arrive.
     *
     * @throws NativeException when a walk or a delete fails (EINVAL for an array map)
     */
    public void clear() throws NativeException {
        byte[] next = new byte[keySize];
        while (LibBpf.mapNextKey(fd, null, next)) {
            LibBpf.mapDelete(fd, next.clone(), "map " + name);
        }
    }

    @Override
    public String toString() {
        return "BpfMap[" + name + ", type " + type + ", key " + keySize + ", value " + valueSize + ", max "
                + maxEntries + "]";
    }
}
