package dev.reuseport;

import dev.reuseport.sys.internal.NativeMemory;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Child-process scenarios for {@link KernelSelftestMigrationTest} and {@link KernelSelftestSyncookiesTest},
 * run in a private network namespace whose sysctls the test set (tcp_fastopen, tcp_syncookies); prints
 * {@code key=value} lines the test reads.
 *
 * <p>What the kernel's {@code migrate_reuseport.c} does with an XDP program, holding back the final ACK
 * of the handshake so that requests stay in SYN_RECV (TCP Fast Open children in the accept queue) or
 * NEW_SYN_RECV (request sockets), is done here with a classic BPF socket filter on the listeners
 * (SO_ATTACH_FILTER): the kernel runs a listener's filter on the ACK of each of its requests before
 * {@code tcp_check_req}, and on the SYN, which the filter lets through. No tool and no module is needed.
 */
public final class KernelSelftestScenario {
    private KernelSelftestScenario() {
    }

    /** SO_ATTACH_FILTER and SO_DETACH_FILTER. */
    static final int SO_ATTACH_FILTER = 26;
    static final int SO_DETACH_FILTER = 27;
    /** TCP_FASTOPEN_CONNECT: connect() returns at once; the first write sends SYN with data. */
    static final int TCP_FASTOPEN_CONNECT = 30;
    /** Clients per scenario. */
    static final int CLIENTS = 12;

    public static void main(String[] args) throws Exception {
        System.out.println("tcp_migrate_req=" + sysctl("tcp_migrate_req") + " tcp_fastopen=" + sysctl("tcp_fastopen")
                + " tcp_syncookies=" + sysctl("tcp_syncookies"));
        switch (args[0]) {
            case "migrate" -> migrate(args[1], args[2], args[3], Boolean.parseBoolean(args[4]));
            case "syncookies" -> syncookies(args[1]);
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    static String sysctl(String name) throws IOException {
        return String.join("", Files.readAllLines(Path.of("/proc/sys/net/ipv4/" + name))).trim();
    }

    static InetAddress loopback(String family) throws IOException {
        return InetAddress.getByName("v6".equals(family) ? "::1" : "127.0.0.1");
    }

    /**
     * {@code state}: {@code tfo} (SYN_RECV children of TCP Fast Open, migrated when their listener closes),
     * {@code timer} (NEW_SYN_RECV requests migrated by the SYN-ACK timer), {@code ack} (NEW_SYN_RECV
     * requests migrated by the final ACK); {@code op}: {@code remove} (removeWorker of slot 0, slot 1
     * survives) or {@code restart} (a socket generation swap). Every client must be accepted by a live worker.
     */
    static void migrate(String state, String family, String op, boolean migration) throws Exception {
        InetAddress lo = loopback(family);
        boolean tfo = state.equals("tfo");
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).workers(2).backlog(256).migration(migration).open();
             NativeMemory dropAck = dropAckFilter()) {
            int port = g.localAddress().getPort();
            System.out.println("steering=" + g.capabilities().steering() + " / " + g.capabilities().steeringReason());
            for (Worker w : g.workers()) {
                filter(w, dropAck);
            }
            List<Object> clients = new ArrayList<>();
            try {
                long synRetrans0 = netstat("TCPSynRetrans");
                for (int i = 0; i < CLIENTS; i++) {
                    clients.add(tfo ? fastOpenClient(lo, port, i) : plainClient(lo, port, i));
                }
                long deadline = System.nanoTime() + 3_000_000_000L;
                int[] st;
                int queued;
                do {
                    Thread.sleep(10);
                    st = states(port, lo instanceof java.net.Inet6Address);
                    queued = g.stats().stream().mapToInt(WorkerStats::queueDepth).sum();
                } while ((st[0] < CLIENTS || queued != (tfo ? CLIENTS : 0)) && System.nanoTime() < deadline);
                System.out.println("syn_recv_before=" + st[0] + " established_before=" + st[1] + " queued_before=" + queued);
                if (state.equals("ack")) {
                    // let the first two SYN-ACK retransmissions (1 s and 3 s after the SYN) pass while every
                    // listener is open: the next one is 4 s later, so the ACK below, not the timer, migrates
                    // the requests even when the restart is slow (it took up to 2.4 s on a loaded machine)
                    long retrans0 = synRetrans0;
                    long until = System.nanoTime() + 5_000_000_000L;
                    while (netstat("TCPSynRetrans") - retrans0 < 2 * CLIENTS && System.nanoTime() < until) {
                        Thread.sleep(20);
                    }
                    System.out.println("synack_retransmitted=" + (netstat("TCPSynRetrans") - retrans0));
                }
                long success0 = netstat("TCPMigrateReqSuccess");
                long failure0 = netstat("TCPMigrateReqFailure");

                List<Worker> survivors;
                long t0 = System.nanoTime();
                if (op.equals("remove")) {
                    Worker survivor = g.worker(1);
                    if (!state.equals("timer")) {
                        unfilter(survivor); // the ACK may reach the survivor as soon as the leaver is gone
                    }
                    g.removeWorker(0);
                    survivors = List.of(survivor);
                } else {
                    g.restart();
                    survivors = g.workers();
                    if (state.equals("timer")) {
                        for (Worker w : survivors) {
                            filter(w, dropAck); // hold the ACK back until the SYN-ACK timer has fired
                        }
                    }
                }
                System.out.println("op_ms=" + (System.nanoTime() - t0) / 1_000_000);
                if (state.equals("timer")) {
                    // the first SYN-ACK retransmission comes 1 s after the SYN: reqsk_timer_handler migrates then
                    long until = System.nanoTime() + 3_000_000_000L;
                    while (netstat("TCPMigrateReqSuccess") - success0 + netstat("TCPMigrateReqFailure") - failure0 == 0
                            && System.nanoTime() < until) {
                        Thread.sleep(20);
                    }
                    Thread.sleep(100);
                    System.out.println("migrated_by_timer=" + (netstat("TCPMigrateReqSuccess") - success0));
                    for (Worker w : survivors) {
                        unfilter(w);
                    }
                }
                System.out.println("migrated_before_ack=" + (netstat("TCPMigrateReqSuccess") - success0));
                long t1 = System.nanoTime();
                if (!tfo) {
                    // the ACK now: the first data segment (TCP_NODELAY, nothing outstanding) carries it at once
                    for (Object c : clients) {
                        try {
                            ((Socket) c).getOutputStream().write(100);
                        } catch (IOException e) {
                            System.out.println("kick_failed=" + e);
                        }
                    }
                }
                int accepted = 0;
                int dataOk = 0;
                long acceptDeadline = System.nanoTime() + 2_000_000_000L;
                while (accepted < CLIENTS && System.nanoTime() < acceptDeadline) {
                    boolean any = false;
                    for (Worker w : survivors) {
                        Connection c = w.tryAccept(false);
                        if (c == null) {
                            continue;
                        }
                        any = true;
                        try (c) {
                            accepted++;
                            if (tfo) {
                                ByteBuffer b = ByteBuffer.allocate(1);
                                if (c.read(b) == 1) {
                                    dataOk++;
                                }
                            }
                        }
                    }
                    if (!any) {
                        Thread.sleep(5);
                    }
                }
                System.out.println("accept_ms=" + (System.nanoTime() - t1) / 1_000_000);
                System.out.println("accepted=" + accepted);
                System.out.println("data_ok=" + dataOk);
                System.out.println("migrate_success=" + (netstat("TCPMigrateReqSuccess") - success0));
                System.out.println("migrate_failure=" + (netstat("TCPMigrateReqFailure") - failure0));
                System.out.println("counted_migrated=" + g.steeringCounters().stream().mapToLong(k -> k.migrated()).sum());
            } finally {
                for (Object c : clients) {
                    if (c instanceof Socket s) {
                        s.close();
                    } else {
                        Sys.close((Integer) c);
                    }
                }
            }
        }
    }

    /**
     * A JDK client, connected (its final ACK held back by the filter), TCP_NODELAY. It sends nothing yet:
     * data outstanding would be retransmitted with a growing timeout (each copy an ACK that could reach
     * the closed listener at any time, and a later write would wait behind it); with nothing outstanding
     * the test's first write goes out at once and is the ACK that completes the handshake.
     */
    static Socket plainClient(InetAddress lo, int port, int i) throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress(lo, port), 2000);
        return s;
    }

    /** A TCP Fast Open client (no cookie: the namespace's tcp_fastopen says so): SYN carries one byte. */
    static int fastOpenClient(InetAddress lo, int port, int i) throws IOException {
        int family = SockAddr.family(lo);
        int fd = Sys.socket(family, Sys.SOCK_STREAM, 0);
        try {
            Sys.setInt(fd, Sys.IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1);
            Sys.connect(fd, new InetSocketAddress(lo, port), family);
            ByteBuffer b = ByteBuffer.allocateDirect(1).put((byte) i).flip();
            if (Sys.write(fd, b) != 1) {
                throw new IOException("fast open write sent nothing");
            }
            return fd;
        } catch (IOException | RuntimeException e) {
            Sys.close(fd);
            throw e;
        }
    }

    /**
     * A classic BPF socket filter that drops every segment with ACK set and SYN clear (the final ACK of
     * the handshake, and data after it) and passes everything else; at a TCP socket's filter the packet
     * starts at the TCP header, whose flags are byte 13.
     */
    static NativeMemory dropAckFilter() {
        // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
        int[][] prog = {
            {0x30, 0, 0, 13},          // ldb [13]
            {0x54, 0, 0, 0x12},        // and #0x12 (SYN|ACK)
            {0x15, 0, 1, 0x10},        // jeq #0x10 (ACK alone) ? next : skip 1
            {0x06, 0, 0, 0},           // ret #0: drop
            {0x06, 0, 0, 0xffffffff},  // ret #-1: whole packet
        };
        ByteBuffer b = ByteBuffer.allocate(prog.length * 8).order(ByteOrder.nativeOrder());
        for (int[] in : prog) {
            b.putShort((short) in[0]).put((byte) in[1]).put((byte) in[2]).putInt(in[3]);
        }
        return NativeMemory.copyOf(b.array());
    }

    static void filter(Worker w, NativeMemory prog) throws IOException {
        // struct sock_fprog { u16 len; (pad) ; struct sock_filter *filter; }
        ByteBuffer f = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
        f.putShort(0, (short) (prog.size() / 8)).putLong(8, prog.address());
        int fd = w.socket().acquire();
        try {
            Sys.setBytes(fd, Sys.SOL_SOCKET, SO_ATTACH_FILTER, f.array());
        } finally {
            w.socket().release();
        }
    }

    static void unfilter(Worker w) throws IOException {
        int fd = w.socket().acquire();
        try {
            Sys.setInt(fd, Sys.SOL_SOCKET, SO_DETACH_FILTER, 0);
        } finally {
            w.socket().release();
        }
    }

    /** {SYN_RECV, ESTABLISHED} sockets and requests with local port {@code port}, from /proc/net/tcp(6). */
    static int[] states(int port, boolean v6) throws IOException {
        int[] n = new int[2];
        String hexPort = String.format(":%04X", port);
        for (String line : Files.readAllLines(Path.of(v6 ? "/proc/net/tcp6" : "/proc/net/tcp"))) {
            String[] f = line.trim().split("\\s+");
            if (f.length < 4 || !f[1].endsWith(hexPort)) {
                continue;
            }
            if (f[3].equals("03")) {
                n[0]++;
            } else if (f[3].equals("01")) {
                n[1]++;
            }
        }
        return n;
    }

    /** A TcpExt counter of this namespace's /proc/net/netstat, or -1 when absent. */
    static long netstat(String key) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/net/netstat"));
        for (int i = 0; i + 1 < lines.size(); i += 2) {
            String[] k = lines.get(i).split("\\s+");
            String[] v = lines.get(i + 1).split("\\s+");
            for (int j = 1; j < k.length && j < v.length; j++) {
                if (k[j].equals(key)) {
                    return Long.parseLong(v[j]);
                }
            }
        }
        return -1;
    }

    /**
     * Syncookies (the namespace's tcp_syncookies=2: a cookie for every SYN, no request socket): the
     * round-robin program sends the SYN and the ACK of each connection to different members, and each
     * connection must still be accepted, by the member the ACK reached.
     */
    static void syncookies(String family) throws Exception {
        InetAddress lo = loopback(family);
        int n = 20;
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).workers(2).backlog(256).policy(Policy.roundRobin())
                .open()) {
            System.out.println("steering=" + g.capabilities().steering() + " / " + g.capabilities().steeringReason());
            int port = g.localAddress().getPort();
            long sent0 = netstat("SyncookiesSent");
            long recv0 = netstat("SyncookiesRecv");
            long failed0 = netstat("SyncookiesFailed");
            int[] acceptedOn = new int[2];
            int served = 0;
            for (int i = 0; i < n; i++) {
                try (Socket s = new Socket(lo, port)) {
                    s.setSoTimeout(3000);
                    s.getOutputStream().write(i);
                    Connection c = null;
                    long until = System.nanoTime() + 3_000_000_000L;
                    while (c == null && System.nanoTime() < until) {
                        for (Worker w : g.workers()) {
                            c = w.tryAccept(false);
                            if (c != null) {
                                acceptedOn[c.slot()]++;
                                break;
                            }
                        }
                        if (c == null) {
                            Thread.sleep(2);
                        }
                    }
                    if (c == null) {
                        continue;
                    }
                    try (Connection accepted = c) {
                        ByteBuffer b = ByteBuffer.allocate(1);
                        long u = System.nanoTime() + 3_000_000_000L;
                        while (b.position() == 0 && System.nanoTime() < u) {
                            if (accepted.read(b) < 0) {
                                break;
                            }
                            if (b.position() == 0) {
                                Thread.sleep(1);
                            }
                        }
                        b.flip();
                        accepted.writeFully(b);
                    }
                    if (s.getInputStream().read() == i) {
                        served++;
                    }
                } catch (IOException e) {
                    System.out.println("client_failed=" + e);
                }
            }
            long selected = g.steeringCounters().stream().mapToLong(k -> k.selected()).sum();
            System.out.println("connections=" + n);
            System.out.println("served=" + served);
            System.out.println("accepted_on_0=" + acceptedOn[0] + " accepted_on_1=" + acceptedOn[1]);
            System.out.println("selected=" + selected);
            System.out.println("cookies_sent=" + (netstat("SyncookiesSent") - sent0));
            System.out.println("cookies_recv=" + (netstat("SyncookiesRecv") - recv0));
            System.out.println("cookies_failed=" + (netstat("SyncookiesFailed") - failed0));
        }
    }

    /** The value of {@code key=} in a child's output, or -1. */
    static long value(String output, String key) {
        for (String line : output.split("\n")) {
            for (String part : line.trim().split(" ")) {
                if (part.startsWith(key + "=")) {
                    try {
                        return Long.parseLong(part.substring(key.length() + 1).trim());
                    } catch (NumberFormatException e) {
                        return -1;
                    }
                }
            }
        }
        return -1;
    }
}
