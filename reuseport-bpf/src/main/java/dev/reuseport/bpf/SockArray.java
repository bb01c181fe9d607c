package dev.reuseport.bpf;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.LibBpf;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A BPF_MAP_TYPE_REUSEPORT_SOCKARRAY: slot → socket. Checked when wrapped (type, 4-byte keys, 8-byte
 * values) and on every call (slot bounds).
 *
 * <p>Kernel semantics: a slot takes only a bound SO_REUSEPORT UDP socket or a listening TCP socket
 * (EINVAL otherwise), and only one of the group the attached program serves; {@link #set} replaces a
 * slot atomically (that is how a new generation takes a slot over); closing a socket empties its slot
 * by itself; a lookup returns the socket's cookie, never a descriptor.
 */
public final class SockArray extends BpfMap {

    SockArray(BpfMap map) {
        super(map);
        if (map.type() != LibBpf.MAP_TYPE_REUSEPORT_SOCKARRAY) {
            throw new IllegalArgumentException("map " + map.name() + " has type " + map.type()
                    + "; accepted: REUSEPORT_SOCKARRAY (" + LibBpf.MAP_TYPE_REUSEPORT_SOCKARRAY + ")");
        }
        if (map.keySize() != 4 || (map.valueSize() != 8 && map.valueSize() != 4)) {
            throw new IllegalArgumentException("map " + map.name() + " has key " + map.keySize() + " / value "
                    + map.valueSize() + " bytes; accepted: key 4, value 8 (or 4)");
        }
    }

    private void bounds(int slot) {
        if (slot < 0 || slot >= maxEntries()) {
            throw new IllegalArgumentException("slot " + slot + " is outside map " + name() + "; accepted: 0.."
                    + (maxEntries() - 1));
        }
    }

    /** Puts the socket {@code socketFd} into {@code slot}, replacing what was there. */
    public void set(int slot, int socketFd) throws NativeException {
        bounds(slot);
        byte[] v = valueSize() == 8 ? u64(socketFd) : u32(socketFd);
        LibBpf.mapUpdate(fd(), u32(slot), v, LibBpf.BPF_ANY, "map " + name() + " slot " + slot);
    }

    /** Empties {@code slot}; false when it was already empty. */
    public boolean clear(int slot) throws NativeException {
        bounds(slot);
        return LibBpf.mapDelete(fd(), u32(slot), "map " + name() + " slot " + slot);
    }

    /** The cookie of the socket in {@code slot}, or 0 when empty. */
    public long cookie(int slot) throws NativeException {
        bounds(slot);
        byte[] out = new byte[8];
        if (!LibBpf.mapLookup(fd(), u32(slot), out, "map " + name() + " slot " + slot)) {
            return 0;
        }
        return ByteBuffer.wrap(out).order(ByteOrder.nativeOrder()).getLong(0);
    }
}
