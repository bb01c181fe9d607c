package dev.reuseport;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Child-process scenarios for restart tests, run inside a private network namespace so that the
 * namespace's own net.ipv4.tcp_migrate_req (0) applies. Prints {@code key=value} lines the test reads.
 */
public final class RestartScenario {
    private RestartScenario() {
    }

    public static void main(String[] args) throws Exception {
        System.out.println("tcp_migrate_req=" + String.join("", Files.readAllLines(Path.of("/proc/sys/net/ipv4/tcp_migrate_req"))).trim());
        switch (args[0]) {
            case "queued" -> queued(Boolean.parseBoolean(args[1]));
            case "load" -> underLoad(Integer.parseInt(args[1]), args[2]);
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    /**
     * migrate_reuseport.c's shape: 5 listeners, 25 clients whose connections sit unaccepted in the
     * queues, then 4 listeners leave; every client must be served by the survivor.
     */
    static void queued(boolean migration) throws Exception {
        InetAddress lo = InetAddress.getLoopbackAddress();
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).workers(5).backlog(64).migration(migration).open()) {
            System.out.println("steering=" + g.capabilities().steering() + " / " + g.capabilities().steeringReason());
            List<Socket> clients = new ArrayList<>();
            for (int i = 0; i < 25; i++) {
                Socket s = new Socket(lo, g.localAddress().getPort());
                s.setSoTimeout(5000);
                s.getOutputStream().write(i);
                clients.add(s);
            }
            long deadline = System.nanoTime() + 2_000_000_000L;
            int queued = 0;
            while (System.nanoTime() < deadline) {
                queued = g.stats().stream().mapToInt(WorkerStats::queueDepth).sum();
                if (queued == 25) {
                    break;
                }
                Thread.sleep(5);
            }
            System.out.println("queued_before=" + queued);
            int onSurvivor0 = g.stats().get(0).queueDepth();
            g.resize(1);
            Worker survivor = g.worker(0);
            int served = 0;
            byte[] one = new byte[1];
            for (int i = 0; i < 25; i++) {
                Connection c = survivor.accept(java.time.Duration.ofMillis(500));
                if (c == null) {
                    break;
                }
                try (c) {
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1);
                    c.read(b);
                    b.flip();
                    c.writeFully(b);
                    served++;
                }
            }
            int answered = 0;
            for (Socket s : clients) {
                try (s) {
                    InputStream in = s.getInputStream();
                    if (in.read(one) == 1) {
                        answered++;
                    }
                } catch (IOException e) {
                    // reset: counted as not answered
                }
            }
            long migrated = g.steeringCounters().stream().mapToLong(k -> k.migrated()).sum();
            System.out.println("already_on_survivor=" + onSurvivor0);
            System.out.println("served=" + served);
            System.out.println("answered=" + answered);
            System.out.println("migrated=" + migrated);
            System.out.println(netstat("TCPMigrateReqSuccess"));
            System.out.println(netstat("TCPMigrateReqFailure"));
        }
    }

    /** 8 workers serving, 8 clients opening a connection per request, while {@code op} runs {@code n} times. */
    static void underLoad(int n, String op) throws Exception {
        InetAddress lo = InetAddress.getLoopbackAddress();
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).workers(8).backlog(1024).open();
             TestTraffic server = new TestTraffic(g)) {
            System.out.println("steering=" + g.capabilities().steering() + " / " + g.capabilities().steeringReason());
            InetSocketAddress target = g.localAddress();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong ok = new AtomicLong();
            AtomicLong failed = new AtomicLong();
            java.util.Map<String, Integer> reasons = new java.util.concurrent.ConcurrentHashMap<>();
            List<Thread> clients = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                Thread th = new Thread(() -> {
                    while (!stop.get()) {
                        try (Socket s = new Socket(target.getAddress(), target.getPort())) {
                            s.setSoTimeout(5000);
                            OutputStream o = s.getOutputStream();
                            o.write(1);
                            if (s.getInputStream().read() < 0) {
                                failed.incrementAndGet();
                                reasons.merge("end of stream before the reply", 1, Integer::sum);
                            } else {
                                ok.incrementAndGet();
                            }
                        } catch (IOException e) {
                            failed.incrementAndGet();
                            reasons.merge(e.toString(), 1, Integer::sum);
                        }
                    }
                });
                th.start();
                clients.add(th);
            }
            Thread.sleep(200);
            for (int i = 0; i < n; i++) {
                switch (op) {
                    case "restart" -> g.restart();
                    case "resize" -> {
                        for (Worker w : g.resize(i % 2 == 0 ? 4 : 8)) {
                            server.serve(w);
                        }
                    }
                    case "replace" -> g.replaceWorker(i % 8);
                    default -> throw new IllegalArgumentException(op);
                }
                Thread.sleep(20);
            }
            Thread.sleep(200);
            stop.set(true);
            for (Thread th : clients) {
                th.join(10_000);
            }
            System.out.println("ok=" + ok.get());
            System.out.println("failed=" + failed.get());
            System.out.println("failure_reasons=" + reasons);
            System.out.println("restarts=" + g.restarts());
        }
    }

    /** {@code key=value} from the namespace's /proc/net/netstat, read as the metrics read it. */
    static String netstat(String key) {
        Long v = MetricsSampler.netstat().get(key);
        return key + "=" + (v == null ? "absent" : v);
    }
}
