package dev.reuseport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * What a worker holds in memory rather than in its socket: connections and datagrams taken off a closing
 * socket's queue when the kernel could not migrate them (a restart's previous socket generation). Its
 * {@link Worker} returns them before anything its socket holds, moves them to its heir when it is removed
 * and closes them with the group. Lock-free: any thread may park, any may take.
 */
final class ParkedWork {
    /** A datagram taken off a closing socket's receive queue. */
    private record Datagram(byte[] data, InetSocketAddress from) { }

    private final ConcurrentLinkedQueue<Connection> connections = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Datagram> datagrams = new ConcurrentLinkedQueue<>();

    void park(Connection c) {
        connections.add(c);
    }

    void park(byte[] datagram, InetSocketAddress from) {
        datagrams.add(new Datagram(datagram, from));
    }

    /** The oldest parked connection, or null. */
    Connection connection() {
        return connections.poll();
    }

    /**
     * The oldest parked datagram into {@code dst} (truncated to its room) and its sender into {@code from}
     * (the zero-allocation receive); the bytes placed, or -1 when none is parked.
     */
    int datagramInto(ByteBuffer dst, DatagramSource from, int family) {
        if (datagrams.isEmpty()) {
            return -1; // a cheap look: no poll on the ingest path while nothing is parked
        }
        Datagram d = datagrams.poll();
        if (d == null) {
            return -1;
        }
        int len = Math.min(d.data().length, dst.remaining());
        dst.put(d.data(), 0, len);
        from.fillFrom(d.from(), family);
        from.truncated(len < d.data().length);
        return len;
    }

    /** Parked datagrams into {@code batch}'s slots from 0, up to its capacity; how many (0: none parked). */
    int datagramsInto(DatagramBatch batch, int family) {
        if (datagrams.isEmpty()) {
            return 0;
        }
        int k = 0;
        for (Datagram d; k < batch.capacity() && (d = datagrams.poll()) != null; ) {
            batch.handed(k++, d.data(), d.from(), family);
        }
        if (k > 0) {
            batch.handedCount(k);
        }
        return k;
    }

    /** The oldest parked datagram copied into {@code dst} (truncated to its room); its sender, or null. */
    InetSocketAddress datagramInto(ByteBuffer dst) {
        Datagram d = datagrams.poll();
        if (d == null) {
            return null;
        }
        dst.put(d.data(), 0, Math.min(d.data().length, dst.remaining()));
        return d.from();
    }

    /** Connections and datagrams parked, not yet returned. */
    int size() {
        return connections.size() + datagrams.size();
    }

    /** Moves everything parked here to {@code heir} (a removal); how many moved. */
    int moveTo(ParkedWork heir) {
        int n = 0;
        for (Connection c; (c = connections.poll()) != null; n++) {
            heir.connections.add(c);
        }
        for (Datagram d; (d = datagrams.poll()) != null; n++) {
            heir.datagrams.add(d);
        }
        return n;
    }

    /** Closes the connections and drops the datagrams still parked (the group closes); how many. */
    int close() {
        int n = 0;
        for (Connection c; (c = connections.poll()) != null; n++) {
            try {
                c.close();
            } catch (IOException | RuntimeException e) {
                // the connection is gone either way
            }
        }
        for (; datagrams.poll() != null; n++) {
            // dropped with the group
        }
        return n;
    }
}
