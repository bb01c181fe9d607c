package dev.reuseport.sys.internal;

import com.kenai.jffi.MemoryIO;
import java.lang.ref.Cleaner;

/**
 * A thread's native scratch block: at least {@link #SCRATCH_INITIAL} bytes, grown on demand up to
 * {@link #SCRATCH_MAX}; larger requests get a block of their own that {@link #release} frees.
 */
final class JnrScratch {
    private static final MemoryIO IO = MemoryIO.getInstance();
    private static final Cleaner CLEANER = Cleaner.create();
    /** The first size of a thread's block. */
    static final int SCRATCH_INITIAL = 1024;
    /** Largest per-thread scratch block kept between calls; larger requests are call-scoped. */
    static final int SCRATCH_MAX = 64 * 1024;

    /** Owns the native block; the cleaner frees it once the JnrScratch is unreachable. */
    private final Block block;
    /** The current block's address (never 0). */
    long address;
    private long size;

    JnrScratch() {
        long a = IO.allocateMemory(SCRATCH_INITIAL, true);
        if (a == 0) {
            throw new OutOfMemoryError("cannot allocate " + SCRATCH_INITIAL + " bytes of native scratch memory");
        }
        this.block = new Block(a);
        this.address = a;
        this.size = SCRATCH_INITIAL;
        CLEANER.register(this, block);
    }

    /** An address with room for {@code need} bytes: this thread's block, or a call-scoped one. */
    long acquire(long need) {
        if (need <= size) {
            return address;
        }
        if (need <= SCRATCH_MAX) {
            long grown = Math.max(size * 2, Long.highestOneBit(need - 1) << 1);
            grown = Math.min(Math.max(grown, need), SCRATCH_MAX);
            long a = IO.allocateMemory(grown, true);
            if (a == 0) {
                throw new OutOfMemoryError("cannot allocate " + grown + " bytes of native scratch memory");
            }
            IO.freeMemory(block.address);
            block.address = a;
            address = a;
            size = grown;
            return a;
        }
        long a = IO.allocateMemory(need, false);
        if (a == 0) {
            throw new OutOfMemoryError("cannot allocate " + need + " bytes of native memory");
        }
        return a;
    }

    /** Frees {@code a} when {@link #acquire} allocated it for one call. */
    void release(long a) {
        if (a != address) {
            IO.freeMemory(a);
        }
    }

    private static final class Block implements Runnable {
        volatile long address;

        Block(long address) {
            this.address = address;
        }

        @Override
        public void run() {
            long a = address;
            address = 0;
            if (a != 0) {
                IO.freeMemory(a);
            }
        }
    }
}
