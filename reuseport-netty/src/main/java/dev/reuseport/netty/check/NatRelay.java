package dev.reuseport.netty.check;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A UDP relay between clients and a server, one thread, bounded in time: each client gets an upstream
 * socket of its own (its address as the server sees it). {@link #startRebinding()} moves every client to a
 * new upstream socket (a new source port) each period, as a NAT rebinding does; {@link #hold(boolean)} holds
 * the server's datagrams back (in order, then released), so that a handshake can be kept in flight.
 */
public final class NatRelay implements AutoCloseable {
    /** Rebinds done. */
    public final AtomicLong rebinds = new AtomicLong();
    /** Server datagrams that came to a client's earlier upstream socket (its old address). */
    public final AtomicLong viaOld = new AtomicLong();
    /** Client datagrams relayed to the server. */
    public final AtomicLong toServer = new AtomicLong();
    /** Server datagrams held back so far (see {@link #hold(boolean)}). */
    public final AtomicLong held = new AtomicLong();
    /** Clients that server datagrams were held back for, so far. */
    public final AtomicLong heldClients = new AtomicLong();
    private final java.util.Set<Object> heldFor = new java.util.HashSet<>();
    private final InetSocketAddress server;
    private final DatagramChannel front;
    private final Selector selector;
    private final long rebindNanos;
    private final Map<SocketAddress, DatagramChannel> upstream = new HashMap<>();
    private final List<DatagramChannel> retired = new ArrayList<>();
    private final Deque<Object[]> heldBack = new ArrayDeque<>();
    private final Thread thread;
    private volatile boolean stop;
    private volatile boolean holding;
    /** When the next rebind is due; none before {@link #startRebinding()} (handshakes complete first). */
    private volatile long nextRebind = Long.MAX_VALUE;

    /**
     * A relay on the server's address (port chosen by the kernel), running until closed or {@code maxMillis}.
     *
     * @param server       where to relay to
     * @param rebindMillis between rebinds, once started
     * @param maxMillis    the relay's lifetime bound
     * @throws IOException when a socket cannot open
     */
    public NatRelay(InetSocketAddress server, long rebindMillis, long maxMillis) throws IOException {
        this.server = server;
        this.rebindNanos = TimeUnit.MILLISECONDS.toNanos(rebindMillis);
        this.selector = Selector.open();
        this.front = DatagramChannel.open().bind(new InetSocketAddress(server.getAddress(), 0));
        front.configureBlocking(false);
        front.register(selector, SelectionKey.OP_READ, null);
        this.thread = new Thread(() -> run(TimeUnit.MILLISECONDS.toNanos(maxMillis)), "nat-relay");
        thread.setDaemon(true);
        thread.start();
    }

    /** Starts moving the clients, one move every period from now (after their handshakes). */
    public void startRebinding() {
        nextRebind = System.nanoTime() + rebindNanos;
    }

    /**
     * Holds the server's datagrams back from now ({@code true}), or sends those held, in order, and relays
     * again ({@code false}; within the relay's next turn, at most 10 ms).
     *
     * @param on whether to hold
     */
    public void hold(boolean on) {
        holding = on;
        selector.wakeup();
    }

    /**
     * Where clients send.
     *
     * @return the relay's address
     * @throws IOException when it cannot be read
     */
    public InetSocketAddress address() throws IOException {
        return (InetSocketAddress) front.getLocalAddress();
    }

    private DatagramChannel open(SocketAddress client) throws IOException {
        DatagramChannel up = DatagramChannel.open().bind(new InetSocketAddress(server.getAddress(), 0));
        up.configureBlocking(false);
        up.register(selector, SelectionKey.OP_READ, client);
        DatagramChannel old = upstream.put(client, up);
        if (old != null) {
            retired.add(old);
        }
        return up;
    }

    private void run(long maxNanos) {
        ByteBuffer buf = ByteBuffer.allocateDirect(65536);
        long start = System.nanoTime();
        try {
            while (!stop && System.nanoTime() - start < maxNanos) {
                selector.select(10);
                for (SelectionKey k : selector.selectedKeys()) {
                    DatagramChannel ch = (DatagramChannel) k.channel();
                    SocketAddress from;
                    while (ch.isOpen() && (from = ch.receive(buf.clear())) != null) {
                        buf.flip();
                        if (ch == front) {
                            DatagramChannel up = upstream.get(from);
                            (up == null ? open(from) : up).send(buf, server);
                            toServer.incrementAndGet();
                        } else {
                            if (upstream.get(k.attachment()) != ch) {
                                viaOld.incrementAndGet();
                            }
                            if (holding) {
                                ByteBuffer copy = ByteBuffer.allocate(buf.remaining()).put(buf).flip();
                                heldBack.add(new Object[] {copy, k.attachment()});
                                held.incrementAndGet();
                                if (heldFor.add(k.attachment())) {
                                    heldClients.incrementAndGet();
                                }
                            } else {
                                front.send(buf, (SocketAddress) k.attachment());
                            }
                        }
                    }
                }
                selector.selectedKeys().clear();
                while (!holding && !heldBack.isEmpty()) {
                    Object[] h = heldBack.poll();
                    front.send((ByteBuffer) h[0], (SocketAddress) h[1]);
                }
                if (System.nanoTime() >= nextRebind) {
                    nextRebind = nextRebind + rebindNanos;
                    for (DatagramChannel r : retired) {
                        r.close();
                    }
                    retired.clear();
                    for (SocketAddress c : new ArrayList<>(upstream.keySet())) {
                        open(c);
                    }
                    rebinds.incrementAndGet();
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } finally {
            closeAll();
        }
    }

    private void closeAll() {
        try {
            for (DatagramChannel c : upstream.values()) {
                c.close();
            }
            for (DatagramChannel c : retired) {
                c.close();
            }
            front.close();
            selector.close();
        } catch (IOException ignored) {
            // closing: nothing left to do
        }
    }

    /**
     * Stops the relay and closes its sockets (waits at most 5 s for its thread).
     *
     * @throws InterruptedException when interrupted while waiting
     */
    @Override
    public void close() throws InterruptedException {
        stop = true;
        selector.wakeup();
        thread.join(5_000);
    }
}
