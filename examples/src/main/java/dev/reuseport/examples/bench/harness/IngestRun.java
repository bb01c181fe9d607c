package dev.reuseport.examples.bench.harness;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One measured ingest run, as the reference harness measures it: the receiver (a C program or a Java
 * {@link IngestReceiver}) runs as its own process confined to the receiver CPU, the GSO sender to the
 * other; the receiver reports over its own window.
 *
 * @param rate    datagrams (GRO: segments) per second received
 * @param cpuNs   the receiver process's CPU time per datagram (JIT and GC included), ns
 * @param dropPct receive-buffer drops as a share of what reached the sockets, %: below 1 the sender side
 *                was the limit, and {@code cpuNs} is the fair measure of the receiver
 * @param gcs     garbage collections in the window (Java), 0 for C
 * @param alloc   bytes the receiving threads allocated per datagram (library paths), -1 where not measured
 */
public record IngestRun(double rate, double cpuNs, double dropPct, long gcs, double alloc) {

    /**
     * Datagrams per second one receiver CPU can take: 1e9 / {@link #cpuNs()}. This is each receiver at its
     * own limit, whether or not the sender kept it saturated in this run.
     *
     * @return the capacity, or 0 without a measurement
     */
    public double capacity() {
        return cpuNs > 0 ? 1e9 / cpuNs : 0;
    }

    /** Where a run takes place: the C program, the receiver CPU (-1: unpinned), the sender CPU, the port. */
    public record Setup(IngestC c, int rxCpu, int txCpu, int port, int workers, int[] flows, double warm,
                        double seconds) {
    }

    /**
     * Runs one receiver against the GSO sender.
     *
     * @param s        the setup
     * @param receiver the receiver's command line (already without taskset)
     * @param payload  bytes per datagram
     * @return the receiver's figures
     * @throws IOException when a process fails or reports nothing
     * @throws InterruptedException when interrupted
     */
    public static IngestRun measure(Setup s, List<String> receiver, int payload)
            throws IOException, InterruptedException {
        List<String> rx = new ArrayList<>(IngestC.pinned(s.rxCpu()));
        rx.addAll(receiver);
        Process r = new ProcessBuilder(rx).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        Process snd = null;
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(r.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            while (line != null && !line.startsWith("READY ")) {
                line = out.readLine();
            }
            if (line == null) {
                throw new IOException("receiver " + receiver + " ended before READY");
            }
            // 64 B: trains of 64 segments; larger: trains under 64 KiB; 4 trains per sendmmsg
            int segs = payload <= 64 ? 64 : Math.min(64, 65_000 / payload);
            StringBuilder ports = new StringBuilder();
            for (int p : s.flows()) {
                ports.append(ports.length() == 0 ? "" : ",").append(p);
            }
            snd = new ProcessBuilder(s.c().command(s.txCpu(), "send", Integer.toString(s.port()),
                    Integer.toString(payload), Integer.toString(segs), Double.toString(s.warm() + s.seconds() + 40),
                    ports.toString())).redirectError(ProcessBuilder.Redirect.INHERIT)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            while ((line = out.readLine()) != null && !line.startsWith("RESULT ")) {
                // skip
            }
            if (line == null) {
                throw new IOException("receiver " + receiver + " ended without a RESULT");
            }
            Map<String, String> kv = new HashMap<>();
            for (String tok : line.substring(7).trim().split("\\s+")) {
                int eq = tok.indexOf('=');
                kv.put(tok.substring(0, eq), tok.substring(eq + 1));
            }
            double rate = Double.parseDouble(kv.get("rate"));
            double drops = Double.parseDouble(kv.get("drops"));
            // with GRO a drop is a whole train; the share is approximate there
            return new IngestRun(rate, Double.parseDouble(kv.get("cpu_ns")),
                    rate + drops > 0 ? 100 * drops / (rate + drops) : 0, Long.parseLong(kv.get("gcs")),
                    Double.parseDouble(kv.get("alloc")));
        } finally {
            stop(snd);
            stop(r);
        }
    }

    /**
     * The command line of a Java {@link IngestReceiver} child: this JVM's java and class path, with
     * {@code -XX:ActiveProcessorCount=2} so that a JVM confined to one CPU keeps the collector and
     * compiler threads it would have unconfined (as the reference harness runs it).
     *
     * @param impl    the receiver
     * @param s       the setup
     * @param batch   datagrams per recvmmsg (lib-batch, netty)
     * @param backend {@code ffm}, {@code jnr}, or null for the default
     * @return the command
     */
    public static List<String> javaReceiver(String impl, Setup s, int batch, String backend) {
        List<String> cmd = new ArrayList<>(List.of(ChildJvm.javaBinary(), "-XX:ActiveProcessorCount=2"));
        if (Runtime.version().feature() >= 22) {
            cmd.add("--enable-native-access=ALL-UNNAMED");
        }
        if (backend != null) {
            cmd.add("-Dreuseport.backend=" + backend);
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), IngestReceiver.class.getName(), impl,
                Integer.toString(s.port()), Integer.toString(s.workers()), Integer.toString(batch),
                Double.toString(s.warm()), Double.toString(s.seconds())));
        return cmd;
    }

    /**
     * The command line of a C receiver.
     *
     * @param gro   UDP_GRO receiver (segments counted) or recvmmsg
     * @param s     the setup
     * @param batch datagrams (GRO: buffers) per recvmmsg
     * @return the command
     */
    public static List<String> cReceiver(boolean gro, Setup s, int batch) {
        return s.c().command(-1, "recv", Integer.toString(s.port()), Integer.toString(s.workers()),
                gro ? "gro" : "mmsg", Integer.toString(batch), Double.toString(s.warm()), Double.toString(s.seconds()));
    }

    /**
     * Stops a process this bench started: TERM, then KILL after 5 s.
     *
     * @param p the process, or null
     * @throws InterruptedException when interrupted
     */
    public static void stop(Process p) throws InterruptedException {
        if (p != null && p.isAlive()) {
            p.destroy();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
        }
    }
}
