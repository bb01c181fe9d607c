package dev.reuseport.examples.bench.harness;

import dev.reuseport.GroupClosedException;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/** Receive, check the datagram's number and mark it; no echo. */
public final class SeqUdpServer extends WorkerThreads {
    public final AtomicLongArray[] seen;
    public final LongAdder received = new LongAdder();
    public final LongAdder duplicates = new LongAdder();
    public final LongAdder malformed = new LongAdder();
    public final long maxSeq;

    public SeqUdpServer(ReuseportGroup g, int senders, long maxSeq) {
        super(g);
        this.maxSeq = maxSeq;
        seen = new AtomicLongArray[senders];
        for (int i = 0; i < senders; i++) {
            seen[i] = new AtomicLongArray((int) ((maxSeq + 63) / 64));
        }
        serve(g.workers());
    }

    public long receivedTotal() {
        return received.sum() + duplicates.sum() + malformed.sum();
    }

    public boolean seen(int sender, long seq) {
        return (seen[sender].get((int) (seq >>> 6)) & (1L << (seq & 63))) != 0;
    }

    @Override
    public void run(Worker w) {
        ByteBuffer buf = ByteBuffer.allocateDirect(2048);
        while (!stopping && System.nanoTime() < hardDeadline) {
            InetSocketAddress from;
            try {
                buf.clear();
                from = w.receive(buf, SoakWire.WORKER_WAIT);
            } catch (GroupClosedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                error("receive: " + e.getMessage());
                continue;
            }
            if (from == null) {
                continue;
            }
            buf.flip();
            if (buf.remaining() != SoakWire.PAYLOAD || buf.getInt(0) != SoakWire.MAGIC) {
                malformed.increment();
                continue;
            }
            int sender = buf.getInt(4);
            long seq = buf.getLong(8);
            if (sender < 0 || sender >= seen.length || seq < 0 || seq >= maxSeq) {
                malformed.increment();
                continue;
            }
            AtomicLongArray bits = seen[sender];
            int word = (int) (seq >>> 6);
            long bit = 1L << (seq & 63);
            long prev = bits.getAndUpdate(word, v -> v | bit);
            if ((prev & bit) != 0) {
                duplicates.increment();
            } else {
                received.increment();
            }
        }
    }
}
