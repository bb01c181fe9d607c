package dev.reuseport.examples.bench.harness;

import dev.reuseport.netty.check.QuicEchoClients;
import io.netty.channel.EventLoopGroup;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * QUIC connections through cross-process hand-offs: {@code netty-echo --quic --serve} servers in child JVMs,
 * each started with {@code --take-over} of the previous one's control socket, while long-lived Netty QUIC
 * connections here open a stream every period, each echo checked. Connections come in batches, one batch
 * opened to each new server, and a batch closes three hand-offs later (so its old server drains and exits,
 * and at most four socket generations live at once); at least three batches are open at any time.
 * With generations each old server keeps its batch's connections until they close; without
 * ({@code -Dreuseport.generations=off} in the servers taking over: the sockets themselves are passed) the
 * connections of the old server break.
 */
public final class QuicHandoffs {
    private QuicHandoffs() {
    }

    /**
     * What a run counted.
     *
     * @param connections connections made in all
     * @param broken      connections with a failed stream, or closed before their batch ended
     * @param ok          streams echoed intact
     * @param failed      streams that failed or timed out
     * @param handoffs    hand-offs completed
     */
    public record Outcome(long connections, long broken, long ok, long failed, int handoffs) {
    }

    /**
     * One run.
     *
     * @param loops         client event loops
     * @param generations   whether the servers taking over use socket generations
     * @param workers       each server's workers
     * @param batch         connections per batch (three or four batches are open at once)
     * @param handoffs      hand-offs between server JVMs
     * @param periodMillis  between a connection's streams
     * @param timeoutMillis for each echo
     * @param progress      says which hand-off runs
     * @return the counts
     * @throws Exception when a server does not start or a client cannot connect
     */
    public static Outcome run(EventLoopGroup loops, boolean generations, int workers, int batch, int handoffs,
                              long periodMillis, long timeoutMillis, Progress progress) throws Exception {
        Path dir = Files.createTempDirectory("rp-quic-handoff", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Path ctl = dir.resolve("ctl");
        Deque<ChildJvm> servers = new ArrayDeque<>();
        Deque<QuicEchoClients> open = new ArrayDeque<>();
        List<QuicEchoClients> done = new ArrayList<>();
        List<String> common = List.of("netty-echo", "--quic", "--serve", "--workers", String.valueOf(workers),
                "--drain-seconds", "60");
        int completed = 0;
        try {
            servers.add(ChildJvm.start(List.of(), args(common, "--control", ctl.toString())));
            InetSocketAddress target = new InetSocketAddress(InetAddress.getLoopbackAddress(),
                    Integer.parseInt(servers.peekLast().ready().split(" ")[0]));
            open.add(connect(loops, target, batch, periodMillis, timeoutMillis));
            for (int k = 1; k <= handoffs; k++) {
                progress.phase((generations ? "generations" : "sockets passed") + ": hand-off " + k + " of "
                        + handoffs);
                if (open.size() >= 3) { // the oldest batch ends; its server drains and exits
                    QuicEchoClients ending = open.poll();
                    done.add(ending);
                    ending.close();
                    closeQuietly(servers.poll());
                }
                Thread.sleep(500);
                servers.add(ChildJvm.start(generations ? List.of() : List.of("-Dreuseport.generations=off"),
                        args(common, "--take-over", ctl.toString())));
                completed++;
                open.add(connect(loops, target, batch, periodMillis, timeoutMillis));
            }
            Thread.sleep(timeoutMillis + 500); // every stream opened so far has had its time
            return tally(done, open, completed);
        } finally {
            for (QuicEchoClients c : open) {
                c.close();
            }
            for (ChildJvm s : servers) {
                closeQuietly(s);
            }
            Files.deleteIfExists(ctl);
            Files.deleteIfExists(dir);
        }
    }

    /** Counts the ended batches (counted as they were before closing) and the open ones, now. */
    private static Outcome tally(List<QuicEchoClients> done, Deque<QuicEchoClients> open, int handoffs) {
        long connections = 0;
        long broken = 0;
        long ok = 0;
        long failed = 0;
        List<QuicEchoClients> all = new ArrayList<>(done);
        all.addAll(open);
        for (QuicEchoClients c : all) {
            connections += c.connected();
            broken += c.brokenAtClose >= 0 ? c.brokenAtClose : c.broken();
            ok += c.ok.get();
            failed += c.failed.get();
        }
        return new Outcome(connections, broken, ok, failed, handoffs);
    }

    private static QuicEchoClients connect(EventLoopGroup loops, InetSocketAddress target, int n, long periodMillis,
                                            long timeoutMillis) throws Exception {
        QuicEchoClients c = new QuicEchoClients(periodMillis, timeoutMillis);
        try {
            c.connect(loops, target, n);
        } catch (Exception e) {
            c.close();
            throw e;
        }
        c.start();
        return c;
    }

    private static String[] args(List<String> common, String... more) {
        List<String> a = new ArrayList<>(common);
        a.addAll(List.of(more));
        return a.toArray(new String[0]);
    }

    private static void closeQuietly(ChildJvm c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.io.IOException e) {
            // the server is gone already
        }
    }
}
