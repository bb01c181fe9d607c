package dev.reuseport.bpf;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A reuseport group of server sockets made with {@link Sys} calls on a loopback address (non-blocking,
 * SO_REUSEPORT, all bound to one port; TCP ones listening), plus clients made with JDK sockets, and a
 * record of which member received each flow. Every descriptor it makes it also closes.
 */
final class TestGroup implements AutoCloseable {
    /** Transport of the group. */
    enum Proto {
        TCP, UDP
    }

    /** How long a batch of traffic may take to arrive before the test gives up (and fails). */
    static final long ARRIVAL_MILLIS = 5_000;
    private static final int BACKLOG = 1024;
    private static final int CONNECT_MILLIS = 2_000;

    final Proto proto;
    final InetAddress address;
    final int family;
    final int port;
    private final int[] fds;
    private final boolean[] open;

    private TestGroup(Proto proto, InetAddress address, int[] fds, int port) {
        this.proto = proto;
        this.address = address;
        this.family = SockAddr.family(address);
        this.fds = fds;
        this.port = port;
        this.open = new boolean[fds.length];
        Arrays.fill(open, true);
    }

    /** {@code n} members of one group on an ephemeral port of {@code address}. */
    static TestGroup open(Proto proto, InetAddress address, int n) throws NativeException {
        int family = SockAddr.family(address);
        int[] fds = new int[n];
        Arrays.fill(fds, -1);
        int port = 0;
        try {
            for (int i = 0; i < n; i++) {
                fds[i] = Sys.socket(family, (proto == Proto.TCP ? Sys.SOCK_STREAM : Sys.SOCK_DGRAM) | Sys.SOCK_NONBLOCK, 0);
                Sys.setInt(fds[i], Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
                Sys.bind(fds[i], new InetSocketAddress(address, port), family);
                if (proto == Proto.TCP) {
                    Sys.listen(fds[i], BACKLOG);
                }
                if (i == 0) {
                    port = Sys.localAddress(fds[0]).getPort();
                }
            }
            return new TestGroup(proto, address, fds, port);
        } catch (NativeException | RuntimeException e) {
            for (int fd : fds) {
                if (fd >= 0) {
                    try {
                        Sys.close(fd);
                    } catch (NativeException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
            }
            throw e;
        }
    }

    int size() {
        return fds.length;
    }

    int fd(int member) {
        return fds[member];
    }

    InetSocketAddress target() {
        return new InetSocketAddress(address, port);
    }

    /** Puts member i into slot i, for every member. */
    void fillSlots(SockArray slots) throws NativeException {
        for (int i = 0; i < fds.length; i++) {
            slots.set(i, fds[i]);
        }
    }

    /** Closes one member now (its slot empties by itself). */
    void closeMember(int member) throws NativeException {
        if (open[member]) {
            open[member] = false;
            Sys.close(fds[member]);
        }
    }

    /**
     * {@code flows} new flows, each from its own client socket: one datagram (UDP) or one connection
     * (TCP). Returns, per flow, the member that received it, -1 if it did not arrive in time.
     */
    int[] newFlows(int flows) throws IOException, InterruptedException {
        if (proto == Proto.TCP) {
            return connect(flows);
        }
        List<DatagramSocket> clients = new ArrayList<>();
        try {
            for (int i = 0; i < flows; i++) {
                clients.add(udpClient());
            }
            return send(clients, 1);
        } finally {
            for (DatagramSocket c : clients) {
                c.close();
            }
        }
    }

    /** A UDP client bound to an ephemeral port of the group's address (the caller closes it). */
    DatagramSocket udpClient() throws IOException {
        return new DatagramSocket(new InetSocketAddress(address, 0));
    }

    /**
     * Sends {@code perClient} datagrams from each client (round by round, all clients in each round), each
     * carrying its index {@code round * clients + client}. Returns, per datagram index, the member that
     * received it, -1 if it did not arrive in time. A datagram received twice fails the test.
     */
    int[] send(List<DatagramSocket> clients, int perClient) throws IOException, InterruptedException {
        int total = clients.size() * perClient;
        int[] owner = new int[total];
        Arrays.fill(owner, -1);
        InetSocketAddress to = target();
        ByteBuffer rx = ByteBuffer.allocateDirect(64);
        int got = 0;
        int id = 0;
        for (int r = 0; r < perClient; r++) {
            for (DatagramSocket c : clients) {
                byte[] p = ByteBuffer.allocate(4).putInt(id++).array();
                c.send(new DatagramPacket(p, p.length, to));
                if (id % 16 == 0) { // drain as we go: no receive buffer may overflow
                    got += drainUdp(owner, rx);
                }
            }
        }
        long deadline = System.nanoTime() + ARRIVAL_MILLIS * 1_000_000L;
        got += drainUdp(owner, rx);
        while (got < total && System.nanoTime() < deadline) {
            Thread.sleep(2);
            got += drainUdp(owner, rx);
        }
        return owner;
    }

    private int drainUdp(int[] owner, ByteBuffer rx) throws NativeException {
        int n = 0;
        for (int m = 0; m < fds.length; m++) {
            if (!open[m]) {
                continue;
            }
            for (;;) {
                rx.clear();
                if (Sys.receive(fds[m], rx, Sys.MSG_DONTWAIT) == null) {
                    break;
                }
                rx.flip();
                if (rx.remaining() != 4) {
                    throw new AssertionError("member " + m + " received a datagram of " + rx.remaining()
                            + " bytes; the test sends 4");
                }
                int id = rx.getInt();
                if (id < 0 || id >= owner.length || owner[id] != -1) {
                    throw new AssertionError("member " + m + " received datagram " + id + " which is unknown or"
                            + " was already received by member " + (id >= 0 && id < owner.length ? owner[id] : -1));
                }
                owner[id] = m;
                n++;
            }
        }
        return n;
    }

    /**
     * Sends one datagram of any content from {@code client} and returns the member that received it, -1 if
     * none did in time. A member receiving any other datagram fails the test (nothing else is in flight).
     */
    int sendOne(DatagramSocket client, byte[] payload) throws IOException, InterruptedException {
        client.send(new DatagramPacket(payload, payload.length, target()));
        ByteBuffer rx = ByteBuffer.allocateDirect(2048);
        long deadline = System.nanoTime() + ARRIVAL_MILLIS * 1_000_000L;
        do {
            for (int m = 0; m < fds.length; m++) {
                if (!open[m]) {
                    continue;
                }
                rx.clear();
                if (Sys.receive(fds[m], rx, Sys.MSG_DONTWAIT) == null) {
                    continue;
                }
                rx.flip();
                byte[] got = new byte[rx.remaining()];
                rx.get(got);
                if (!Arrays.equals(got, payload)) {
                    throw new AssertionError("member " + m + " received a stray datagram of " + got.length + " bytes");
                }
                return m;
            }
            Thread.sleep(1);
        } while (System.nanoTime() < deadline);
        return -1;
    }

    /** {@code n} TCP connections from distinct client sockets; per connection, the member that accepted it. */
    private int[] connect(int n) throws IOException, InterruptedException {
        int[] owner = new int[n];
        Arrays.fill(owner, -1);
        Map<Integer, Integer> byPort = new HashMap<>();
        List<Socket> clients = new ArrayList<>();
        int got = 0;
        try {
            for (int i = 0; i < n; i++) {
                Socket s = new Socket();
                clients.add(s);
                s.setSoLinger(true, 0); // close with RST: no TIME_WAIT left behind
                s.bind(new InetSocketAddress(address, 0));
                byPort.put(s.getLocalPort(), i);
                s.connect(target(), CONNECT_MILLIS);
                if (i % 16 == 15) {
                    got += drainAccept(owner, byPort);
                }
            }
            long deadline = System.nanoTime() + ARRIVAL_MILLIS * 1_000_000L;
            got += drainAccept(owner, byPort);
            while (got < n && System.nanoTime() < deadline) {
                Thread.sleep(2);
                got += drainAccept(owner, byPort);
            }
            return owner;
        } finally {
            for (Socket s : clients) {
                s.close();
            }
        }
    }

    private int drainAccept(int[] owner, Map<Integer, Integer> byPort) throws NativeException {
        int n = 0;
        for (int m = 0; m < fds.length; m++) {
            if (!open[m]) {
                continue;
            }
            while ((Sys.poll(fds[m], Sys.POLLIN, 0) & Sys.POLLIN) != 0) {
                int c = Sys.accept(fds[m], false);
                if (c < 0) {
                    break;
                }
                try {
                    int peer = Sys.peerAddress(c).getPort();
                    Integer i = byPort.get(peer);
                    if (i == null || owner[i] != -1) {
                        throw new AssertionError("member " + m + " accepted a connection from port " + peer
                                + " which is unknown or was already accepted by member " + (i == null ? -1 : owner[i]));
                    }
                    owner[i] = m;
                    n++;
                } finally {
                    Sys.close(c);
                }
            }
        }
        return n;
    }

    /** How many entries of {@code owner} name each member (index {@code size()} counts the lost ones). */
    int[] perMember(int[] owner) {
        int[] count = new int[fds.length + 1];
        for (int o : owner) {
            count[o < 0 ? fds.length : o]++;
        }
        return count;
    }

    @Override
    public void close() throws NativeException {
        NativeException first = null;
        for (int m = 0; m < fds.length; m++) {
            try {
                closeMember(m);
            } catch (NativeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return proto + " group of " + fds.length + " on " + target();
    }
}
