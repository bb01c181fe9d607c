package dev.reuseport;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Sys;
import java.util.BitSet;

/**
 * The calling thread's CPU affinity (sched_setaffinity(2) / sched_getaffinity(2)), for placing a
 * worker's receiving thread. With the {@link Policy#cpu()} policy, the datagram processed on CPU
 * {@code c} is steered to the worker in slot {@code c}; pinning that worker's thread to CPU {@code c}
 * ({@link #pinToWorker(Worker)}) keeps steering, softirq and the application's handling on one CPU.
 */
public final class CpuAffinity {
    private CpuAffinity() {
    }

    /**
     * The CPUs the calling thread may run on, read from the kernel.
     *
     * @return the set (CPU n is bit n)
     * @throws NativeException sched_getaffinity with the errno
     */
    public static BitSet current() throws NativeException {
        return Sys.affinity();
    }

    /**
     * Restricts the calling thread to {@code cpus}.
     *
     * @param cpus a non-empty set of CPUs below 1,024
     * @throws IllegalArgumentException when the set is empty or names a CPU of 1,024 or more
     * @throws NativeException sched_setaffinity with the errno (EINVAL when none of the CPUs is online or
     *                         allowed by the cpuset)
     */
    public static void set(BitSet cpus) throws NativeException {
        Sys.setAffinity(cpus);
    }

    /**
     * Pins the calling thread to one CPU.
     *
     * @param cpu 0..1,023
     * @throws IllegalArgumentException when out of range
     * @throws NativeException sched_setaffinity with the errno
     */
    public static void pin(int cpu) throws NativeException {
        if (cpu < 0 || cpu >= Sys.CPU_SET_BYTES * 8) {
            throw new IllegalArgumentException("cpu " + cpu + "; accepted: 0.." + (Sys.CPU_SET_BYTES * 8 - 1));
        }
        BitSet one = new BitSet();
        one.set(cpu);
        Sys.setAffinity(one);
    }

    /**
     * Pins the calling thread to the CPU the {@link Policy#cpu()} policy maps to {@code worker}'s slot:
     * CPU {@code slot % availableProcessors}.
     *
     * @param worker the worker this thread serves
     * @return the CPU pinned to
     * @throws NativeException sched_setaffinity with the errno
     */
    public static int pinToWorker(Worker worker) throws NativeException {
        int cpu = worker.slot() % Runtime.getRuntime().availableProcessors();
        pin(cpu);
        return cpu;
    }
}
