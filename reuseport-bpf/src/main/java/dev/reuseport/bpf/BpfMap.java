package dev.reuseport.bpf;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.LibBpf;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A map of a loaded {@link BpfObject} (its descriptor closes with the object). Checks key and value
 * sizes on every call; errors name the bpf command and the map.
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

    /** Name in the object. */
    public String name() {
        return name;
    }

    /** Descriptor (owned by the object). */
    public int fd() {
        return fd;
    }

    /** BPF_MAP_TYPE_*. */
    public int type() {
        return type;
    }

    /** Key size in bytes. */
    public int keySize() {
        return keySize;
    }

    /** Value size in bytes, as user space sees it (per-CPU maps: per CPU). */
    public int valueSize() {
        return valueSize;
    }

    /** max_entries. */
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

    /** bpf_map_update_elem with {@code flags} (BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
    public void update(byte[] key, byte[] value, long flags) throws NativeException {
        sizes(key, value, valueSize);
        LibBpf.mapUpdate(fd, key, value, flags, "map " + name);
    }

    /** bpf_map_lookup_elem into a new array of {@code valueBytes}; null when absent. */
    public byte[] lookup(byte[] key, int valueBytes) throws NativeException {
        byte[] out = new byte[valueBytes];
        sizes(key, out, valueBytes);
        return LibBpf.mapLookup(fd, key, out, "map " + name) ? out : null;
    }

    /** bpf_map_lookup_elem; null when absent. */
    public byte[] lookup(byte[] key) throws NativeException {
        return lookup(key, valueSize);
    }

    /** bpf_map_delete_elem; false when absent. */
    public boolean delete(byte[] key) throws NativeException {
        sizes(key, null, 0);
        return LibBpf.mapDelete(fd, key, "map " + name);
    }

    /** The number of keys present (walks bpf_map_get_next_key; for hash maps). */
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

    /** Deletes every key (hash maps). */
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
