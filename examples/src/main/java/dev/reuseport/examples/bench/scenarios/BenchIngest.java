package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.examples.bench.harness.ChildJvm;

import dev.reuseport.CpuAffinity;
import dev.reuseport.DatagramBatch;
import dev.reuseport.DatagramSource;
import dev.reuseport.IngestOptions;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bench ingest}: UDP receive throughput of 4 SO_REUSEPORT receivers on 127.0.0.1 in a private
 * network namespace (the bench re-runs itself under {@code unshare -n}), fed by a C sender the bench
 * compiles at run time with the machine's {@code cc} (sendmmsg of UDP_SEGMENT super-datagrams, so the
 * sender is never the limit; a receiver without UDP_GRO gets them split by the kernel). Receivers: C
 * recvmmsg and C UDP_GRO (the limits, compiled here too), the JDK's DatagramChannel, this library's
 * single receive ({@code Worker.receive(ByteBuffer, DatagramSource, Duration)}), batched receive
 * ({@code Worker.receive(DatagramBatch, Duration)}) and batched receive with UDP GRO, and Netty's epoll
 * transport with recvmmsg and with UDP GRO. Alternating rounds in a rotating order, medians; 64 and
 * 1,200-byte payloads. With 2 CPUs or more, placement is split: the sender (and the loopback softirq it
 * runs) on CPU 0, every receiver thread on CPU 1 (the library pins through {@link CpuAffinity}).
 * Then the scale runs: the time to remove one worker from 1, 2, 8, 64 and 256-worker groups. The last
 * line is the RESULT line; a figure not measured prints {@code na}.
 */
@Command(name = "ingest", mixinStandardHelpOptions = true,
        description = "UDP ingest: library single/batched/GRO receive vs JDK, Netty and C (recvmmsg, GRO) "
                + "limits, 4 workers, private netns, alternating rounds; then membership-change time by size.")
public final class BenchIngest implements Callable<Integer> {
    private static final String[] IMPLS = {"c-mmsg", "c-gro", "jdk", "lib-single", "lib-batch", "lib-gro", "netty",
        "netty-gro"};
    private static final int[] PAYLOADS = {64, 1200};
    private static final int RCVBUF = 4 << 20;

    @Spec
    CommandSpec spec;

    @Option(names = "--rounds", defaultValue = "5", description = "rounds (default ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--seconds", defaultValue = "2", description = "measured seconds per run (default ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--warmup", defaultValue = "1", description = "warm-up seconds per run (default ${DEFAULT-VALUE})")
    double warmup;

    @Option(names = "--workers", defaultValue = "4", description = "receivers (default ${DEFAULT-VALUE})")
    int workers;

    @Option(names = "--batch", defaultValue = "64", description = "recvmmsg batch for lib, C and Netty (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--only", split = ",", description = "receivers to run (default: all of "
            + "c-mmsg,c-gro,jdk,lib-single,lib-batch,lib-gro,netty,netty-gro)")
    List<String> only;

    @Option(names = "--pin", defaultValue = "auto", description = "split (sender CPU 0, receivers CPU 1), none, "
            + "or auto: split with 2 CPUs or more (default ${DEFAULT-VALUE})")
    String pin;

    @Option(names = "--in-netns", hidden = true, description = "already in a private network namespace")
    boolean inNetns;

    @Option(names = "--no-netns", description = "run in this network namespace (loopback traffic only)")
    boolean noNetns;

    @Option(names = "--skip-scale", description = "skip the membership-change scale runs")
    boolean skipScale;

    private PrintWriter out;
    private Path dir;
    private boolean split;

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        if (rounds < 1 || workers < 1 || seconds <= 0 || warmup < 0 || batch < 1 || batch > DatagramBatch.MAX_SLOTS) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--rounds and --workers must be 1 or "
                    + "more, --seconds above 0, --warmup 0 or more, --batch 1.." + DatagramBatch.MAX_SLOTS);
        }
        if (!inNetns && !noNetns) {
            return reexecInNetns();
        }
        if (inNetns) {
            run(List.of("ip", "link", "set", "lo", "up"), 10);
        }
        int cpus = Runtime.getRuntime().availableProcessors();
        split = "split".equals(pin) || ("auto".equals(pin) && cpus >= 2);
        List<String> impls = only == null || only.isEmpty() ? List.of(IMPLS) : only;
        for (String i : impls) {
            if (!Arrays.asList(IMPLS).contains(i)) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "unknown receiver " + i
                        + "; accepted: " + String.join(",", IMPLS));
            }
        }
        dir = Files.createTempDirectory("bench-ingest");
        try {
            compileC();
            out.printf("%d receivers on 127.0.0.1, C GSO sender (sendmmsg of UDP_SEGMENT trains), %s placement, "
                    + "%d rounds of %.1f s + %.1f s warm-up, batch %d, SO_RCVBUF %d%n", workers,
                    split ? "split (sender CPU 0, receivers CPU 1)" : "unpinned", rounds, seconds, warmup, batch, RCVBUF);
            Map<String, double[]> rates = new LinkedHashMap<>();
            double alloc = Double.NaN;
            for (int r = 0; r < rounds; r++) {
                for (int payload : PAYLOADS) {
                    List<String> order = new ArrayList<>(impls);
                    java.util.Collections.rotate(order, r);
                    for (String impl : order) {
                        Run res = runOne(impl, payload);
                        rates.computeIfAbsent(impl + "/" + payload, k -> new double[rounds])[r] = res.rate;
                        if (impl.equals("lib-batch") && payload == 64 && !Double.isNaN(res.allocPerDgram)) {
                            alloc = Double.isNaN(alloc) ? res.allocPerDgram : Math.max(alloc, res.allocPerDgram);
                        }
                        out.printf(Locale.ROOT, "round %d %-10s %5d B %8.3f M/s%s%n", r + 1, impl, payload,
                                res.rate / 1e6, Double.isNaN(res.allocPerDgram) ? ""
                                        : String.format(Locale.ROOT, "  alloc %.2f B/dgram", res.allocPerDgram));
                        out.flush();
                    }
                }
            }
            out.printf("%n%-10s %12s %10s %12s %10s%n", "receiver", "64 B M/s", "ns/dgram", "1200 B M/s", "ns/dgram");
            Map<String, Double> med = new LinkedHashMap<>();
            for (String impl : impls) {
                double a = median(rates.get(impl + "/64"));
                double b = median(rates.get(impl + "/1200"));
                med.put(impl + "/64", a);
                med.put(impl + "/1200", b);
                out.printf(Locale.ROOT, "%-10s %12.3f %10.0f %12.3f %10.0f%n", impl, a / 1e6, 1e9 / a, b / 1e6, 1e9 / b);
            }
            out.println("(ns/dgram: wall time per datagram over the 4 receivers on their CPU; medians of the rounds)");
            String scale = skipScale ? "na" : scaleRuns();
            out.printf(Locale.ROOT, "RESULT ingest lib_single_vs_jdk=%s lib_batch_vs_c=%s lib_batch_vs_jdk=%s "
                            + "lib_gro_vs_c_gro=%s lib_gro_vs_c_gro_1200=%s lib_gro_vs_netty_gro=%s alloc_per_dgram=%s "
                            + "sticky_moved_1m=na workers256_remove_ms=%s%n",
                    ratio(med, "lib-single/64", "jdk/64"), ratio(med, "lib-batch/64", "c-mmsg/64"),
                    ratio(med, "lib-batch/64", "jdk/64"), ratio(med, "lib-gro/64", "c-gro/64"),
                    ratio(med, "lib-gro/1200", "c-gro/1200"), ratio(med, "lib-gro/64", "netty-gro/64"),
                    Double.isNaN(alloc) ? "na" : String.format(Locale.ROOT, "%.2f", alloc), scale);
            out.flush();
            return 0;
        } finally {
            try (var s = Files.list(dir)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    private int reexecInNetns() throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("ingest", "--in-netns"));
        // the whole command line was given to the top command: pass on what follows "ingest"
        List<String> all = spec.commandLine().getParseResult().originalArgs();
        int at = all.indexOf("ingest");
        args.addAll(all.subList(at + 1, all.size()));
        int rc = ChildJvm.benchInNetns(out, args);
        if (rc != 0) {
            out.println("bench ingest: the child in 'unshare -n' exited with " + rc + " (root is needed for a private "
                    + "network namespace; --no-netns runs here, on loopback)");
        }
        return rc;
    }

    private static String ratio(Map<String, Double> med, String a, String b) {
        Double x = med.get(a);
        Double y = med.get(b);
        if (x == null || y == null || !(x > 0) || !(y > 0)) {
            return "na";
        }
        return String.format(Locale.ROOT, "%.3f", x / y);
    }

    private static double median(double[] v) {
        if (v == null) {
            return Double.NaN;
        }
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** One measured run: datagrams (segments) per second, and bytes allocated per datagram (lib only). */
    private record Run(double rate, double allocPerDgram) {
    }

    /** A receiver under test: its per-worker counters (stride 16 longs apart) and how to stop it. */
    private interface Receiver extends AutoCloseable {
        long count();

        default long allocatedBytes() {
            return -1;
        }

        @Override
        void close() throws Exception;
    }

    private Run runOne(String impl, int payload) throws Exception {
        int port;
        Process cRecv = null;
        Receiver rx = null;
        if (impl.startsWith("c-")) {
            cRecv = new ProcessBuilder(List.of(dir.resolve("ingest").toString(), "recv", "0", Integer.toString(workers),
                    impl.equals("c-gro") ? "gro" : "mmsg", Integer.toString(batch), split ? "1" : "-1",
                    Double.toString(warmup), Double.toString(seconds))).redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
            BufferedReader r = new BufferedReader(new InputStreamReader(cRecv.getInputStream(), StandardCharsets.UTF_8));
            String ready = r.readLine();
            if (ready == null || !ready.startsWith("READY ")) {
                cRecv.destroyForcibly();
                throw new IOException("C receiver did not start: " + ready);
            }
            port = Integer.parseInt(ready.substring(6).trim());
            Process sender = startSender(port, payload);
            try {
                String line = r.readLine();
                if (line == null || !line.startsWith("RATE ")) {
                    throw new IOException("C receiver ended without a rate: " + line);
                }
                return new Run(Double.parseDouble(line.substring(5).trim()), Double.NaN);
            } finally {
                stop(sender);
                stop(cRecv);
            }
        }
        rx = startJava(impl);
        try {
            port = javaPort;
            Process sender = startSender(port, payload);
            try {
                sleep(warmup);
                long c0 = rx.count();
                long a0 = rx.allocatedBytes();
                long t0 = System.nanoTime();
                sleep(seconds);
                long c1 = rx.count();
                long a1 = rx.allocatedBytes();
                long t1 = System.nanoTime();
                double rate = (c1 - c0) * 1e9 / (t1 - t0);
                double alloc = a0 < 0 || a1 < 0 || c1 == c0 ? Double.NaN : (a1 - a0) / (double) (c1 - c0);
                return new Run(rate, alloc);
            } finally {
                stop(sender);
            }
        } finally {
            rx.close();
        }
    }

    private int javaPort;

    private Process startSender(int port, int payload) throws IOException {
        // 64 B: trains of 64 segments; 1200 B: trains of 48 (under 64 KiB); 4 trains per sendmmsg
        int segs = payload <= 64 ? 64 : 48;
        double secs = warmup + seconds + 2;
        return new ProcessBuilder(List.of(dir.resolve("ingest").toString(), "send", Integer.toString(port),
                Integer.toString(payload), Integer.toString(segs), "32", split ? "0" : "-1", Double.toString(secs)))
                .redirectError(ProcessBuilder.Redirect.INHERIT).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    private static void stop(Process p) throws InterruptedException {
        if (p != null && p.isAlive()) {
            p.destroy();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    private static void sleep(double s) throws InterruptedException {
        Thread.sleep((long) (s * 1000));
    }

    private void pinReceiver() {
        if (split) {
            try {
                CpuAffinity.pin(1);
            } catch (Exception e) {
                throw new IllegalStateException("cannot pin a receiver to CPU 1: " + e.getMessage(), e);
            }
        }
    }

    // ---- Java receivers -----------------------------------------------------------------------------------

    private Receiver startJava(String impl) throws Exception {
        switch (impl) {
            case "jdk":
                return jdk();
            case "netty":
                return netty(false);
            case "netty-gro":
                return netty(true);
            default:
                return lib(impl);
        }
    }

    private static long sum(AtomicLongArray c, int n) {
        long s = 0;
        for (int i = 0; i < n; i++) {
            s += c.get(i * 16);
        }
        return s;
    }

    private Receiver lib(String impl) throws Exception {
        boolean gro = impl.equals("lib-gro");
        ReuseportGroup g = ReuseportGroup.udp().address(InetAddress.getLoopbackAddress()).port(0).workers(workers)
                .receiveBuffer(RCVBUF).ingest(IngestOptions.defaults().udpGro(gro)).open();
        javaPort = g.localAddress().getPort();
        AtomicLongArray counts = new AtomicLongArray(workers * 16);
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        long[] tids = new long[workers];
        for (int k = 0; k < workers; k++) {
            Worker w = g.workers().get(k);
            int id = k;
            Thread t = new Thread(() -> {
                pinReceiver();
                Duration wait = Duration.ofMillis(100);
                long n = 0;
                try {
                    if (impl.equals("lib-single")) {
                        ByteBuffer dst = ByteBuffer.allocateDirect(2048);
                        DatagramSource from = new DatagramSource();
                        while (!stop.get()) {
                            dst.clear();
                            if (w.receive(dst, from, wait) >= 0) {
                                counts.lazySet(id * 16, ++n);
                            }
                        }
                    } else {
                        DatagramBatch b = DatagramBatch.allocate(gro ? Math.min(batch, 16) : batch, gro ? 65_535 : 2048);
                        while (!stop.get()) {
                            int m = w.receive(b, wait);
                            for (int i = 0; i < m; i++) {
                                n += b.segmentCount(i);
                            }
                            counts.lazySet(id * 16, n);
                        }
                    }
                } catch (Exception e) {
                    if (!stop.get()) {
                        e.printStackTrace();
                    }
                }
            }, "ingest-" + impl + "-" + k);
            tids[k] = t.getId();
            t.start();
            threads.add(t);
        }
        return new Receiver() {
            @Override
            public long count() {
                return sum(counts, workers);
            }

            @Override
            public long allocatedBytes() {
                java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
                if (!(mx instanceof com.sun.management.ThreadMXBean sun) || !sun.isThreadAllocatedMemorySupported()) {
                    return -1;
                }
                long s = 0;
                for (long id : tids) {
                    s += sun.getThreadAllocatedBytes(id);
                }
                return s;
            }

            @Override
            public void close() throws Exception {
                stop.set(true);
                for (Thread t : threads) {
                    t.join(5000);
                }
                g.close();
            }
        };
    }

    private Receiver jdk() throws Exception {
        List<DatagramChannel> chans = new ArrayList<>();
        InetSocketAddress bound = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        for (int k = 0; k < workers; k++) {
            DatagramChannel ch = DatagramChannel.open();
            ch.setOption(StandardSocketOptions.SO_REUSEPORT, true);
            ch.setOption(StandardSocketOptions.SO_RCVBUF, RCVBUF);
            ch.bind(bound);
            bound = (InetSocketAddress) ch.getLocalAddress();
            chans.add(ch);
        }
        javaPort = bound.getPort();
        AtomicLongArray counts = new AtomicLongArray(workers * 16);
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        for (int k = 0; k < workers; k++) {
            DatagramChannel ch = chans.get(k);
            int id = k;
            Thread t = new Thread(() -> {
                pinReceiver();
                ByteBuffer dst = ByteBuffer.allocateDirect(2048);
                long n = 0;
                try {
                    while (!stop.get()) {
                        dst.clear();
                        if (ch.receive(dst) != null) {
                            counts.lazySet(id * 16, ++n);
                        }
                    }
                } catch (IOException e) {
                    if (!stop.get()) {
                        e.printStackTrace();
                    }
                }
            }, "ingest-jdk-" + k);
            t.start();
            threads.add(t);
        }
        return new Receiver() {
            @Override
            public long count() {
                return sum(counts, workers);
            }

            @Override
            public void close() throws Exception {
                stop.set(true);
                for (DatagramChannel ch : chans) {
                    ch.close();
                }
                for (Thread t : threads) {
                    t.join(5000);
                }
            }
        };
    }

    private Receiver netty(boolean gro) throws Exception {
        Epoll.ensureAvailability();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(workers, EpollIoHandler.newFactory());
        AtomicLongArray counts = new AtomicLongArray(workers * 16);
        List<Channel> chans = new ArrayList<>();
        int port = 0;
        // GRO: one 64 KiB buffer per read (recvmsg), as Netty's own GRO example does; under recvmmsg Netty
        // releases before 4.2.x lost the UDP_GRO segment size and would hand over whole trains
        int buf = gro ? 65_536 : 2048;
        int nb = gro ? 1 : batch;
        for (int k = 0; k < workers; k++) {
            int id = k;
            Bootstrap b = new Bootstrap().group(group).channel(EpollDatagramChannel.class)
                    .option(EpollChannelOption.SO_REUSEPORT, true)
                    .option(ChannelOption.SO_RCVBUF, RCVBUF)
                    .option(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE, buf)
                    .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(buf * nb))
                    .handler(new ChannelInboundHandlerAdapter() {
                        long n;
                        boolean pinned;

                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            if (!pinned) {
                                pinned = true;
                                pinReceiver();
                            }
                            ReferenceCountUtil.release(msg);
                            counts.lazySet(id * 16, ++n);
                        }
                    });
            if (gro) {
                b.option(EpollChannelOption.UDP_GRO, true);
            }
            Channel ch = b.bind(InetAddress.getLoopbackAddress(), port).sync().channel();
            port = ((InetSocketAddress) ch.localAddress()).getPort();
            chans.add(ch);
        }
        javaPort = port;
        return new Receiver() {
            @Override
            public long count() {
                return sum(counts, workers);
            }

            @Override
            public void close() throws Exception {
                for (Channel ch : chans) {
                    ch.close().sync();
                }
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            }
        };
    }

    // ---- scale: membership-change time by group size ------------------------------------------------------

    private String scaleRuns() throws Exception {
        out.printf("%nmembership change (UDP, kernel hash): time to open the group, remove one worker, then "
                + "add one; medians of 5%n");
        out.printf("%-8s %12s %12s %12s%n", "workers", "open ms", "add ms", "remove ms");
        String at256 = "na";
        for (int n : new int[] {1, 2, 8, 64, 256}) {
            double[] add = new double[5];
            double[] open = new double[5];
            double[] remove = new double[5];
            for (int r = 0; r < 5; r++) {
                long t0 = System.nanoTime();
                try (ReuseportGroup g = ReuseportGroup.udp().address(InetAddress.getLoopbackAddress()).port(0)
                        .workers(n).open()) {
                    long t1 = System.nanoTime();
                    if (n >= 2) {
                        g.removeWorker(g.slots()[n / 2]);
                    }
                    long t2 = System.nanoTime();
                    g.addWorker();
                    long t3 = System.nanoTime();
                    open[r] = (t1 - t0) / 1e6;
                    remove[r] = n >= 2 ? (t2 - t1) / 1e6 : Double.NaN;
                    add[r] = (t3 - t2) / 1e6;
                }
            }
            double rm = median(remove);
            out.printf(Locale.ROOT, "%-8d %12.2f %12.3f %12.3f%n", n, median(open), median(add), rm);
            if (n == 256) {
                at256 = String.format(Locale.ROOT, "%.3f", rm);
            }
        }
        return at256;
    }

    // ---- C programs, compiled here ------------------------------------------------------------------------

    private void compileC() throws IOException, InterruptedException {
        Path src = dir.resolve("ingest.c");
        Files.writeString(src, C_SOURCE);
        String cc = System.getenv().getOrDefault("CC", "cc");
        run(List.of(cc, "-O2", "-pthread", "-o", dir.resolve("ingest").toString(), src.toString()), 120);
    }

    private static void run(List<String> cmd, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(cmd + " did not finish in " + timeoutSeconds + " s");
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (" + p.exitValue() + "): " + text);
        }
    }

    /**
     * The C sender and receivers. {@code send PORT PAYLOAD SEGS FLOWS CPU SECONDS}: FLOWS connected sockets,
     * sendmmsg of 4 UDP_SEGMENT trains of SEGS x PAYLOAD per call, round-robin over the flows, until
     * SECONDS pass. {@code recv PORT WORKERS mmsg|gro BATCH CPU WARM SECONDS}: WORKERS SO_REUSEPORT sockets
     * (port 0: the first one's port), a thread each (pinned to CPU when >= 0), blocking recvmmsg; prints
     * {@code READY port}, then after WARM + SECONDS {@code RATE datagrams/s} (GRO: segments) and exits.
     */
    private static final String C_SOURCE = """
            #define _GNU_SOURCE
            #include <arpa/inet.h>
            #include <errno.h>
            #include <netinet/in.h>
            #include <pthread.h>
            #include <sched.h>
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            #include <sys/socket.h>
            #include <time.h>
            #include <unistd.h>
            #ifndef SOL_UDP
            #define SOL_UDP 17
            #endif
            #define UDP_SEGMENT_OPT 103
            #define UDP_GRO_OPT 104

            static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
            static void pin(int cpu) {
                if (cpu < 0) return;
                cpu_set_t s; CPU_ZERO(&s); CPU_SET(cpu, &s);
                if (sched_setaffinity(0, sizeof s, &s) != 0) perror("sched_setaffinity");
            }

            static int do_send(char **a) {
                int port = atoi(a[0]), payload = atoi(a[1]), segs = atoi(a[2]), flows = atoi(a[3]), cpu = atoi(a[4]);
                double secs = atof(a[5]);
                pin(cpu);
                struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
                inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
                int *fd = calloc(flows, sizeof(int));
                for (int i = 0; i < flows; i++) {
                    fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
                    int sb = 4 << 20; setsockopt(fd[i], SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
                    if (connect(fd[i], (struct sockaddr *)&dst, sizeof dst) != 0) { perror("connect"); return 1; }
                }
                enum { B = 4 };
                size_t len = (size_t)payload * segs;
                char *buf = calloc(1, len);
                struct mmsghdr m[B]; struct iovec iov[B];
                char ctl[B][CMSG_SPACE(sizeof(unsigned short))];
                memset(m, 0, sizeof m); memset(ctl, 0, sizeof ctl);
                for (int i = 0; i < B; i++) {
                    iov[i].iov_base = buf; iov[i].iov_len = len;
                    m[i].msg_hdr.msg_iov = &iov[i]; m[i].msg_hdr.msg_iovlen = 1;
                    if (segs > 1) {
                        m[i].msg_hdr.msg_control = ctl[i]; m[i].msg_hdr.msg_controllen = sizeof ctl[i];
                        struct cmsghdr *c = CMSG_FIRSTHDR(&m[i].msg_hdr);
                        c->cmsg_level = SOL_UDP; c->cmsg_type = UDP_SEGMENT_OPT; c->cmsg_len = CMSG_LEN(sizeof(unsigned short));
                        unsigned short s = payload; memcpy(CMSG_DATA(c), &s, sizeof s);
                    }
                }
                double end = now() + secs; unsigned long sent = 0, calls = 0;
                for (int f = 0; ; f = (f + 1) % flows) {
                    if ((calls & 63) == 0 && now() > end) break;
                    int r = sendmmsg(fd[f], m, B, 0);
                    calls++;
                    if (r > 0) sent += (unsigned long)r * segs;
                }
                printf("SENT %lu\\n", sent);
                return 0;
            }

            struct rx { int fd, gro, batch, cpu; volatile unsigned long n; char pad[64]; };

            static void *rx_run(void *arg) {
                struct rx *x = arg;
                pin(x->cpu);
                int b = x->batch; size_t bl = x->gro ? 65536 : 2048;
                char *buf = malloc(bl * b);
                struct mmsghdr *m = calloc(b, sizeof *m); struct iovec *iov = calloc(b, sizeof *iov);
                struct sockaddr_in *from = calloc(b, sizeof *from);
                char (*ctl)[64] = calloc(b, 64);
                for (;;) {
                    for (int i = 0; i < b; i++) {
                        iov[i].iov_base = buf + bl * i; iov[i].iov_len = bl;
                        m[i].msg_hdr.msg_iov = &iov[i]; m[i].msg_hdr.msg_iovlen = 1;
                        m[i].msg_hdr.msg_name = &from[i]; m[i].msg_hdr.msg_namelen = sizeof from[i];
                        m[i].msg_hdr.msg_control = x->gro ? ctl[i] : NULL; m[i].msg_hdr.msg_controllen = x->gro ? 64 : 0;
                    }
                    int r = recvmmsg(x->fd, m, b, MSG_WAITFORONE, NULL);
                    if (r < 0) { if (errno == EINTR) continue; perror("recvmmsg"); exit(3); }
                    unsigned long add = 0;
                    for (int i = 0; i < r; i++) {
                        int gso = 0;
                        if (x->gro) {
                            for (struct cmsghdr *c = CMSG_FIRSTHDR(&m[i].msg_hdr); c; c = CMSG_NXTHDR(&m[i].msg_hdr, c))
                                if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO_OPT) memcpy(&gso, CMSG_DATA(c), sizeof gso);
                        }
                        unsigned len = m[i].msg_len;
                        add += gso > 0 ? (len + gso - 1) / gso : 1;
                    }
                    x->n += add;
                }
                return NULL;
            }

            static int do_recv(char **a) {
                int port = atoi(a[0]), w = atoi(a[1]), gro = !strcmp(a[2], "gro"), batch = atoi(a[3]), cpu = atoi(a[4]);
                double warm = atof(a[5]), secs = atof(a[6]);
                struct rx *x = calloc(w, sizeof *x);
                struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons(port)};
                inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
                for (int i = 0; i < w; i++) {
                    int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, rb = 4 << 20;
                    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
                    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
                    if (gro && setsockopt(fd, SOL_UDP, UDP_GRO_OPT, &one, sizeof one) != 0) { perror("UDP_GRO"); return 1; }
                    if (bind(fd, (struct sockaddr *)&me, sizeof me) != 0) { perror("bind"); return 1; }
                    socklen_t l = sizeof me; getsockname(fd, (struct sockaddr *)&me, &l);
                    x[i].fd = fd; x[i].gro = gro; x[i].batch = gro && batch > 16 ? 16 : batch; x[i].cpu = cpu;
                }
                for (int i = 0; i < w; i++) { pthread_t t; pthread_create(&t, NULL, rx_run, &x[i]); }
                printf("READY %d\\n", ntohs(me.sin_port)); fflush(stdout);
                usleep((useconds_t)(warm * 1e6));
                unsigned long c0 = 0, c1 = 0;
                for (int i = 0; i < w; i++) c0 += x[i].n;
                double t0 = now();
                usleep((useconds_t)(secs * 1e6));
                for (int i = 0; i < w; i++) c1 += x[i].n;
                double t1 = now();
                printf("RATE %.0f\\n", (c1 - c0) / (t1 - t0)); fflush(stdout);
                _exit(0);
            }

            int main(int argc, char **argv) {
                if (argc >= 8 && !strcmp(argv[1], "send")) return do_send(argv + 2);
                if (argc >= 9 && !strcmp(argv[1], "recv")) return do_recv(argv + 2);
                fprintf(stderr, "usage: ingest send PORT PAYLOAD SEGS FLOWS CPU SECONDS | "
                        "recv PORT WORKERS mmsg|gro BATCH CPU WARM SECONDS\\n");
                return 2;
            }
            """;
}
