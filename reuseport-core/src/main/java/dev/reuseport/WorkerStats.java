package dev.reuseport;

/**
 * One worker's counters at one moment: what this process counted and what the kernel reports for the
 * worker's socket.
 *
 * @param slot        the worker's stable slot id
 * @param accepted    TCP connections accepted through this worker
 * @param received    UDP datagrams received through this worker
 * @param sent        UDP datagrams sent through this worker
 * @param queueDepth  TCP: connections waiting in the accept queue now (TCP_INFO tcpi_unacked); UDP: 0
 * @param queueLimit  TCP: the accept queue's limit (TCP_INFO tcpi_sacked); UDP: 0
 * @param drops       the kernel's drop counter for the socket (SO_MEMINFO SK_MEMINFO_DROPS): accept-queue
 *                    overflows for TCP, receive-buffer overflows for UDP
 */
public record WorkerStats(int slot, long accepted, long received, long sent, int queueDepth, int queueLimit,
                          long drops) {
}
