package dev.reuseport.sys.internal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A block of native memory (malloc) owned by one object and freed exactly once by {@link #close()}:
 * for buffers that must outlive a single call, such as an ELF image libbpf keeps pointing at, or a
 * verifier log buffer filled during load.
 */
public final class NativeMemory implements AutoCloseable {
    private final AtomicLong address;
    private final long size;

    private NativeMemory(long address, long size) {
        this.address = new AtomicLong(address);
        this.size = size;
    }

    /** Allocates {@code size} bytes (at least 1), zeroed. */
    public static NativeMemory allocate(long size) {
        if (size < 1 || size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("size " + size + " is out of range; accepted: 1.." + Integer.MAX_VALUE);
        }
        long a = Native.backend().malloc(size);
        if (a == 0) {
            throw new OutOfMemoryError("malloc(" + size + ") returned NULL");
        }
        NativeMemory m = new NativeMemory(a, size);
        m.write(0, new byte[(int) size]);
        return m;
    }

    /** A copy of {@code bytes} in native memory. */
    public static NativeMemory copyOf(byte[] bytes) {
        NativeMemory m = allocate(Math.max(1, bytes.length));
        m.write(0, bytes);
        return m;
    }

    /** The address; throws when freed. */
    public long address() {
        long a = address.get();
        if (a == 0) {
            throw new IllegalStateException("native memory already freed");
        }
        return a;
    }

    /** Size in bytes. */
    public long size() {
        return size;
    }

    /** Copies {@code bytes} to {@code offset}. */
    public void write(long offset, byte[] bytes) {
        bounds(offset, bytes.length);
        Native.backend().copyToNative(bytes, 0, address() + offset, bytes.length);
    }

    /** Reads {@code len} bytes at {@code offset}. */
    public byte[] read(long offset, int len) {
        bounds(offset, len);
        byte[] out = new byte[len];
        Native.backend().copyFromNative(address() + offset, out, 0, len);
        return out;
    }

    private void bounds(long offset, long len) {
        if (offset < 0 || len < 0 || offset + len > size) {
            throw new IndexOutOfBoundsException("[" + offset + ", " + (offset + len) + ") outside a block of " + size);
        }
    }

    @Override
    public void close() {
        long a = address.getAndSet(0);
        if (a != 0) {
            Native.backend().free(a);
        }
    }
}
