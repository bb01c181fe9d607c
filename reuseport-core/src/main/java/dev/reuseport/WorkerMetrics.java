package dev.reuseport;

/**
 * One worker over one sampling window, each figure from its real source.
 *
 * @param slot       stable slot id
 * @param accepted   TCP connections accepted (cumulative, this process)
 * @param received   UDP datagrams received (cumulative, this process)
 * @param rate       accepted + received per second over the window
 * @param queueDepth TCP accept-queue length now (TCP_INFO tcpi_unacked on the listener)
 * @param queueLimit its limit (tcpi_sacked)
 * @param drops      the kernel's drop counter for the socket (SO_MEMINFO SK_MEMINFO_DROPS), cumulative
 * @param selected   steering program: traffic steered here (cumulative; 0 without a program)
 * @param shadow     steering program in shadow: traffic it would have steered here (cumulative)
 * @param shadowRate shadow count per second over the window
 * @param migrated   requests migrated here from closing listeners by the program (cumulative)
 * @param fallback   times this slot was chosen but empty, so the kernel hash decided (cumulative)
 * @param p50Micros  latency recorded by the application over the window, 50th percentile (0: none)
 * @param p99Micros  99th percentile
 * @param p999Micros 99.9th percentile
 * @param samples    latency samples in the window
 */
public record WorkerMetrics(int slot, long accepted, long received, double rate, int queueDepth, int queueLimit,
                            long drops, long selected, long shadow, double shadowRate, long migrated, long fallback,
                            long p50Micros, long p99Micros, long p999Micros, long samples) {
}
