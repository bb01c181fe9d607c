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

    /**
     * Puts a socket into a slot, replacing what was there in one map update: a program that runs
     * meanwhile sees the old socket or the new one, never an empty slot.
     *
     * @param slot     the slot, {@code 0..maxEntries()-1}
     * @param socketFd a bound SO_REUSEPORT UDP socket or a listening SO_REUSEPORT TCP socket of the group
     *                 the program serves
     * @throws IllegalArgumentException when the slot is out of bounds
     * @throws NativeException when the kernel refuses the socket: EINVAL when it is not bound (UDP) or
     *                         listening (TCP) or has no SO_REUSEPORT, EBUSY when it already sits in a socket
     *                         array (a socket has one slot of one array at a time)
     */
    public void set(int slot, int socketFd) throws NativeException {
        bounds(slot);
        byte[] v = valueSize() == 8 ? u64(socketFd) : u32(socketFd);
        LibBpf.mapUpdate(fd(), u32(slot), v, LibBpf.BPF_ANY, "map " + name() + " slot " + slot);
    }

    /**
     * Empties a slot; new traffic that selects it then falls back to the kernel's hash.
     *
     * @param slot the slot, {@code 0..maxEntries()-1}
     * @return true when a socket was removed, false when the slot was already empty
     * @throws IllegalArgumentException when the slot is out of bounds
     * @throws NativeException when the delete fails other than with ENOENT
     */
    public boolean clear(int slot) throws NativeException {
        bounds(slot);
        return LibBpf.mapDelete(fd(), u32(slot), "map " + name() + " slot " + slot);
    }

    /**
     * The socket in a slot, as its cookie ({@code SO_COOKIE}): the kernel never hands out a descriptor
     * from a socket array.
     *
     * @param slot the slot, {@code 0..maxEntries()-1}
     * @return the socket's cookie, or 0 when the slot is empty
     * @throws IllegalArgumentException when the slot is out of bounds
     * @throws NativeException when the lookup fails other than with ENOENT
     */
    public long cookie(int slot) throws NativeException {
        bounds(slot);
        byte[] out = new byte[8];
        if (!LibBpf.mapLookup(fd(), u32(slot), out, "map " + name() + " slot " + slot)) {
            return 0;
        }
        return ByteBuffer.wrap(out).order(ByteOrder.nativeOrder()).getLong(0);
    }
}
