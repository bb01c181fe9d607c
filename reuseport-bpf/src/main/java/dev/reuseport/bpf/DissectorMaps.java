package dev.reuseport.bpf;

import dev.reuseport.bpf.SteerProgram.DissectorCounters;
import dev.reuseport.bpf.SteerProgram.Generation;
import dev.reuseport.bpf.SteerProgram.GenerationState;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.LibBpf;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The dissector and generation half of {@link SteerProgram}'s maps: the dissector config in two halves
 * ({@code dcfg}, switched by {@code dactive}), the socket generations ({@code gens}), the per-CPU dissector
 * counters ({@code dstats}) and the flow dissector's table ({@code dflows}). It encodes and decodes their
 * entries; {@link SteerProgram} keeps the public methods, their lock and its count of map updates (the
 * writes here return how many updates they made).
 */
final class DissectorMaps {
    final BpfMap dcfg;
    final BpfMap dactive;
    final BpfMap gens;
    final BpfMap dstats;
    final BpfMap dflows;
    private final int cpus;
    /** The dcfg half last seen in force. */
    private int dhalf;

    DissectorMaps(BpfMap dcfg, BpfMap dactive, BpfMap gens, BpfMap dstats, BpfMap dflows, int cpus)
            throws NativeException {
        this.dcfg = dcfg;
        this.dactive = dactive;
        this.gens = gens;
        this.dstats = dstats;
        this.dflows = dflows;
        this.cpus = cpus;
        byte[] d = dactive.lookup(BpfMap.u32(0));
        this.dhalf = d == null ? 0 : ByteBuffer.wrap(d).order(ByteOrder.nativeOrder()).getInt(0) & 1;
    }

    private static int u32At(byte[] v, int off) {
        return ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getInt(off);
    }

    /**
     * The dcfg half in force, read from the kernel each time: another object on the same maps (the other
     * side of a hand-off) may have switched it.
     */
    private int dissectorHalf() throws NativeException {
        byte[] d = dactive.lookup(BpfMap.u32(0));
        dhalf = d == null ? 0 : u32At(d, 0) & 1;
        return dhalf;
    }

    /** Writes the dissector config into the half not in force and switches to it; the map updates made. */
    int writeDissector(Dissector d, int working) throws NativeException {
        int next = 1 - dissectorHalf();
        dcfg.update(BpfMap.u32(next), d.encode(working), LibBpf.BPF_ANY);
        dactive.update(BpfMap.u32(0), BpfMap.u32(next), LibBpf.BPF_ANY);
        dhalf = next;
        return 2;
    }

    private byte[] dissectorConfig() throws NativeException {
        return dcfg.lookup(BpfMap.u32(dissectorHalf()));
    }

    /** The dissector in force, read from the kernel. */
    Dissector dissector() throws NativeException {
        return Dissector.decode(dissectorConfig());
    }

    /** The working generation in force, 0..255. */
    int workingGeneration() throws NativeException {
        return u32At(dissectorConfig(), 20) & 0xff;
    }

    static void checkGeneration(int generation) {
        if (generation < 0 || generation >= SteerProgram.MAX_GENERATIONS) {
            throw new IllegalArgumentException("generation " + generation + "; accepted: 0.."
                    + (SteerProgram.MAX_GENERATIONS - 1));
        }
    }

    /** Writes one generation's entry; the map updates made. */
    private int writeGeneration(int number, int base, int count, int key, GenerationState state)
            throws NativeException {
        ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.nativeOrder());
        b.putInt(0, key).putShort(4, (short) base).putShort(6, (short) count).putInt(8, state.ordinal());
        gens.update(BpfMap.u32(number), b.array(), LibBpf.BPF_ANY);
        return 1;
    }

    /** {@link SteerProgram#setGeneration}: checks the values, makes the generation LIVE; the map updates made. */
    int setGeneration(int number, int base, int count, int key) throws NativeException {
        checkGeneration(number);
        if (base < 0 || base >= SteerProgram.MAX_SLOTS) {
            throw new IllegalArgumentException("generation base slot " + base + "; accepted: 0.."
                    + (SteerProgram.MAX_SLOTS - 1));
        }
        if (count < 1 || base + count > SteerProgram.MAX_SLOTS) {
            throw new IllegalArgumentException("generation of " + count + " slots from slot " + base + "; accepted: 1.."
                    + (SteerProgram.MAX_SLOTS - base));
        }
        return writeGeneration(number, base, count, key, GenerationState.LIVE);
    }

    /** {@link SteerProgram#retireGeneration}: keeps range and key, state RETIRED; the map updates made. */
    int retireGeneration(int number) throws NativeException {
        Generation g = generation(number);
        return writeGeneration(number, g.base(), g.count(), g.key(), GenerationState.RETIRED);
    }

    /** A generation as the program sees it (UNUSED with zeros when never set up). */
    Generation generation(int number) throws NativeException {
        checkGeneration(number);
        ByteBuffer b = ByteBuffer.wrap(gens.lookup(BpfMap.u32(number))).order(ByteOrder.nativeOrder());
        int st = b.getInt(8);
        GenerationState state = st >= 0 && st < GenerationState.values().length ? GenerationState.values()[st]
                : GenerationState.UNUSED;
        return new Generation(number, b.getShort(4) & 0xffff, b.getShort(6) & 0xffff, b.getInt(0), state);
    }

    /** A dissector's counters, summed over every possible CPU. */
    DissectorCounters counters(Dissector.Kind kind) throws NativeException {
        int stride = (dstats.valueSize() + 7) & ~7;
        byte[] v = dstats.lookup(BpfMap.u32(kind.code()), stride * cpus);
        ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.nativeOrder());
        long[] sum = new long[7];
        for (int c = 0; c < cpus; c++) {
            for (int i = 0; i < sum.length; i++) {
                sum[i] += b.getLong(c * stride + i * 8);
            }
        }
        return new DissectorCounters(sum[0], sum[1], sum[2], sum[3], sum[4], sum[5], sum[6]);
    }

    /** Zeroes every dissector's counters on every CPU. */
    void resetCounters() throws NativeException {
        int stride = (dstats.valueSize() + 7) & ~7;
        byte[] zero = new byte[stride * cpus];
        for (Dissector.Kind k : Dissector.Kind.values()) {
            LibBpf.mapUpdate(dstats.fd(), BpfMap.u32(k.code()), zero, LibBpf.BPF_ANY, "map dstats");
        }
    }
}
