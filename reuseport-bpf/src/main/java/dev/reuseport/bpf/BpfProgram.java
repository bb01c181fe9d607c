package dev.reuseport.bpf;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.LibBpf;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A loaded program of a {@link BpfObject}; its descriptor belongs to the object and closes with it.
 * Closing the descriptor does not detach the program from a reuseport group: the group holds its own
 * reference until it is detached (SO_DETACH_REUSEPORT_BPF) or replaced, or its last member closes.
 */
public final class BpfProgram {
    private final String name;
    private final int fd;

    BpfProgram(String name, int fd) {
        this.name = name;
        this.fd = fd;
    }

    /**
     * The program's name.
     *
     * @return its name in the object, e.g. {@link SteerProgram#SELECT}
     */
    public String name() {
        return name;
    }

    /**
     * The program's file descriptor, the value {@code SO_ATTACH_REUSEPORT_EBPF} takes. It belongs to the
     * object and is closed with it: do not close it yourself.
     *
     * @return the descriptor number
     */
    public int fd() {
        return fd;
    }

    /**
     * The kernel's id and tag for this program ({@code bpf_obj_get_info_by_fd}), for audit trails: the id
     * is what {@code bpftool prog show id N} takes.
     *
     * @return the id, tag and type, read now
     * @throws NativeException when the kernel cannot report them (e.g. EBADF once the object is closed)
     */
    public Info info() throws NativeException {
        byte[] raw = new byte[232];
        LibBpf.objectInfo(fd, raw);
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.nativeOrder());
        StringBuilder tag = new StringBuilder();
        for (int i = 8; i < 16; i++) {
            tag.append(String.format("%02x", raw[i] & 0xff));
        }
        return new Info(b.getInt(4), tag.toString(), b.getInt(0));
    }

    /**
     * Identity of a loaded program.
     *
     * @param id   the kernel's program id (as bpftool shows it)
     * @param tag  the 8-byte program tag, hex
     * @param type the program type (21 = sk_reuseport)
     */
    public record Info(int id, String tag, int type) {
    }

    @Override
    public String toString() {
        return "BpfProgram[" + name + ", fd " + fd + "]";
    }
}
