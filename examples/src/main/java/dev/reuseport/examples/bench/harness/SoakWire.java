package dev.reuseport.examples.bench.harness;

import java.time.Duration;

/** What the soak's load and servers agree on: the request / datagram format and the timeouts. */
public final class SoakWire {
    /** Bytes of a request and of a datagram: magic, sender, sequence number. */
    public static final int PAYLOAD = 16;
    /** The first int of every request and datagram. */
    public static final int MAGIC = 0x50414b53;
    /** Connect and read timeout of one request, and the servers' socket timeouts. */
    public static final int TIMEOUT_MILLIS = 5000;
    /** How long a worker waits in one accept/receive call; also how soon it lets go of a closed socket. */
    public static final Duration WORKER_WAIT = Duration.ofMillis(10);

    private SoakWire() {
    }
}
