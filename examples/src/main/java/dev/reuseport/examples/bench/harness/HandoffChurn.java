package dev.reuseport.examples.bench.harness;

import dev.reuseport.ControlClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;

/**
 * {@code bench soak}'s cross-process churn: a TCP group of 4 on its own port, served by one child JVM
 * ({@link HandoffChild}) at a time, handed to a new child every {@code period} over the control socket
 * while {@link PacedTcpLoad} opens a connection per request against the port. Every third hand-off one
 * side is killed with SIGKILL at a random step (a real kill -9): the new side stops at its step and says so
 * before the parent kills it, at a step before it says {@code serving} (after it, the new process owns the
 * only sockets: a limit the reliability notes state); the old side is killed when the new side reports the
 * step that follows the old one's (the old one is then at or just past it). Beside it a hostile
 * control client sends random bytes, garbage and valid-but-hostile requests (a hand-off confirmed with a
 * bare {@code ready} or wrong cookies, out-of-range resizes, unknown policies, lines over 64 KiB), and
 * during every hand-off a probe times the {@code fallback} request on the old side's control socket.
 */
public final class HandoffChurn implements AutoCloseable {
    static final List<String> OLD_STEPS = List.of("old:header", "old:fds", "old:layout", "old:proven", "old:confirmed");
    /** How long a child may take to start and take over (a loaded machine starts JVMs slowly). */
    static final long READY_MILLIS = 120_000;
    static final List<String> NEW_STEPS = List.of("new:header", "new:fds", "new:layout", "new:ready");

    private final Path dir;
    private final Path ctl;
    private final int port;
    private final Random random;
    private final List<Child> children = Collections.synchronizedList(new ArrayList<>());
    private final ReentrantLock handoffGate = new ReentrantLock();
    private Child current;
    /** The next new side, started ahead of its turn and waiting for {@code go}. */
    /**
     * The next new sides, in turn order, started ahead of their turns and waiting for {@code go}: two, so
     * that a new side has two periods to start and warm up on a loaded machine, and a hand-off stopped by
     * killing its new side is followed at once by a ready one.
     */
    private final java.util.ArrayDeque<Child> spares = new java.util.ArrayDeque<>();
    static final int SPARES = 2;
    private int started;
    private volatile boolean stop;
    private Thread hostile;
    /** When the schedule began ({@link #awaitSpare}), for the notes. */
    private volatile long scheduleStart = System.nanoTime();

    /** The load on the churned port. */
    public final PacedTcpLoad load;
    /** Hand-offs begun ({@link #handOff} calls). */
    public final AtomicLong attempted = new AtomicLong();
    /** Hand-offs the new side completed ({@code TOOK-OVER}). */
    public final AtomicLong handoffs = new AtomicLong();
    /** Hand-offs where the new side opened its fallback group instead. */
    public final AtomicLong fallbacks = new AtomicLong();
    /** Children killed with SIGKILL at a hand-off step. */
    public final AtomicLong killed = new AtomicLong();
    /** Of those, new sides (the hand-off then did not happen; the old side serves on). */
    public final AtomicLong killedNew = new AtomicLong();
    /** Requests the hostile client sent (each answered, refused or cut off). */
    public final AtomicLong hostileRequests = new AtomicLong();
    /**
     * The slowest round trip of each kind of hostile request (its first word, {@code random} for random
     * bytes, {@code long-line} for a 70,000-byte line), in microseconds: a request that keeps a serving
     * thread busy for long shows here.
     */
    public final java.util.Map<String, Long> hostileSlowest = new java.util.concurrent.ConcurrentHashMap<>();
    /** The slowest {@code fallback} request answered during a hand-off, in microseconds. */
    public final AtomicLong fallbackDuringHandoffMicros = new AtomicLong();
    /** Fallback requests timed during hand-offs. */
    public final AtomicLong fallbackProbes = new AtomicLong();
    /** The slowest of the old side's own figure for those requests (the reply's "in force after N us"). */
    public final AtomicLong fallbackInForceMicros = new AtomicLong();
    /**
     * Every timed {@code fallback}: {@code {hand-off number, its n-th probe in that hand-off (1: the old
     * side's first request of the hand-off), round trip us, in-group us (-1: not in the reply), start
     * ({@link System#nanoTime()}: CLOCK_MONOTONIC, comparable with other processes' logs), the old side's pid,
     * connect began, reply read, and the old side's moments of it (accepted, session began, request read,
     * command ran, reply written; 0: unknown), sessions the old side's thread served before (-1: a thread
     * started for it beyond the standing ones, -2: unknown)}}, moments in {@link System#nanoTime()} ({@link ProbeParts}).
     */
    public final List<long[]> probeSamples = Collections.synchronizedList(new ArrayList<>());
    /** When each SIGKILL was sent ({@link System#nanoTime()}): connections in flight then may be lost. */
    public final List<Long> kills = Collections.synchronizedList(new ArrayList<>());
    /** What went wrong or is worth saying. */
    public final List<String> notes = Collections.synchronizedList(new ArrayList<>());

    /** A child JVM and its output lines. */
    private final class Child {
        final Process process;
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        final List<String> all = Collections.synchronizedList(new ArrayList<>());
        /** When each line of a hand-off's progress first arrived ({@link System#nanoTime()}). */
        final java.util.Map<String, Long> seenAt = new java.util.concurrent.ConcurrentHashMap<>();
        final Thread reader;
        /** Standard input of a child started ahead of its turn ({@code wait}), else null. */
        final java.io.Writer input;
        final long startedAt = System.nanoTime();

        Child(String role, String haltAt) throws IOException {
            List<String> cmd = new ArrayList<>();
            cmd.add(ChildJvm.javaBinary());
            if (Runtime.version().feature() >= 22) {
                cmd.add("--enable-native-access=ALL-UNNAMED");
            }
            // always passed: a child without the property would take the default, not the parent's 0
            cmd.add("-Dchurn.realtime=" + REALTIME);
            cmd.add("-Dchurn.servingNice=" + SERVING_NICE);
            String extra = System.getProperty("soak.childOptions"); // diagnostics, e.g. -Xlog:safepoint
            if (extra != null && !extra.isBlank()) {
                cmd.addAll(List.of(extra.trim().split("\\s+")));
            }
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), HandoffChild.class.getName(), role,
                    ctl.toString(), Integer.toString(port), haltAt));
            process = new ProcessBuilder(cmd).redirectError(dir.resolve("child-" + started++ + ".err").toFile()).start();
            if (haltAt.equals("wait")) {
                input = new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.US_ASCII);
            } else {
                input = null;
                process.getOutputStream().close(); // the child reads no input: no pipe left open here
            }
            children.add(this);
            reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null && all.size() < 10_000; ) {
                        seenAt.putIfAbsent(l.split(" ")[0].equals("STEP") ? l : l.split(" ")[0], System.nanoTime());
                        lines.add(l);
                        all.add(l);
                    }
                } catch (IOException e) {
                    // the child went away
                }
            }, "churn-child-stdout");
            reader.setDaemon(true);
            reader.start();
        }

        boolean saw(String prefix) {
            synchronized (all) {
                return all.stream().anyMatch(l -> l.startsWith(prefix));
            }
        }

        /** Tells a child started ahead of its turn to take over now, halting at {@code haltAt} ("-": none). */
        void go(String haltAt) throws IOException {
            input.write("go " + haltAt + "\n");
            input.flush();
            input.close();
        }

        /** SIGKILL at a hand-off step, recorded in {@link #kills}. */
        void kill() throws InterruptedException {
            kills.add(System.nanoTime());
            discard();
        }

        /** SIGKILL of a child that never served (not a kill at a step). */
        void discard() throws InterruptedException {
            process.destroyForcibly(); // SIGKILL
            process.waitFor(10, TimeUnit.SECONDS);
        }

        void stop() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                discard();
            }
        }
    }

    /**
     * Loads what the churn's Unix sockets need for the life of the JVM (jnr's native stub, whose files stay
     * open), so that a descriptor census taken after this counts only what a run leaves behind.
     */
    public static void warmUp() throws IOException {
        UnixSocketChannel.open().close();
    }

    /** Starts the first generation, the load ({@code rate} connections/s) and the hostile client. */
    public HandoffChurn(int rate, long hardDeadline, long seed) throws IOException, InterruptedException {
        random = new Random(seed);
        dir = Files.createTempDirectory("reuseport-churn-", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        ctl = dir.resolve("ctl");
        try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            port = probe.getLocalPort();
        }
        current = new Child("old", "-");
        // the first new sides start beside the first old one (they serve nothing until their turns), so that
        // the first hand-off is not a whole JVM start later than the schedule's start
        topUpSpares();
        if (!awaitAny(current, READY_MILLIS, "READY ").startsWith("READY ")) {
            throw new IOException("the first hand-off child did not start: " + current.all);
        }
        // this JVM's side of the probe's control connection (jnr's client classes and calls) is warmed with
        // read-only requests first, so that the first probe times the old side rather than this JVM's first use
        for (int k = 0; k < 3; k++) {
            try (ControlClient c = ControlClient.connect(ctl)) {
                c.request("health");
            }
        }
        load = new PacedTcpLoad(new InetSocketAddress("127.0.0.1", port), rate, hardDeadline);
        load.start();
        hostile = new Thread(this::hostileLoop, "churn-hostile-client");
        hostile.setDaemon(true);
        hostile.start();
    }

    /**
     * Waits until the next new sides have started and wait for their turns (at most {@link #READY_MILLIS}
     * each), so that a schedule started after this begins with a hand-off at once.
     *
     * @return whether it did
     */
    public boolean awaitSpare() throws InterruptedException {
        handoffGate.lock();
        try {
            boolean all = !spares.isEmpty();
            for (Child c : spares) {
                all &= c.saw("WAITING") || awaitAny(c, READY_MILLIS, "WAITING").equals("WAITING");
            }
            return all;
        } finally {
            scheduleStart = System.nanoTime();
            handoffGate.unlock();
        }
    }

    /** Starts new sides until {@link #SPARES} wait for their turns. */
    private void topUpSpares() throws IOException {
        while (spares.size() < SPARES) {
            spares.add(new Child("new", "wait"));
        }
    }

    /** The first line of {@code c} starting with one of {@code prefixes} within {@code millis}, or "". */
    private static String awaitAny(Child c, long millis, String... prefixes) throws InterruptedException {
        long end = System.nanoTime() + millis * 1_000_000L;
        while (System.nanoTime() < end) {
            String l = c.lines.poll(20, TimeUnit.MILLISECONDS);
            if (l == null) {
                if (!c.process.isAlive() && c.lines.isEmpty()) {
                    return "";
                }
                continue;
            }
            for (String p : prefixes) {
                if (l.startsWith(p)) {
                    return l;
                }
            }
        }
        return "";
    }

    /**
     * Hand-off {@code i} (0-based). On every third, one side (chosen at random) stops at a random step and is
     * killed there.
     */
    public void handOff(int i) throws IOException, InterruptedException {
        boolean kill = i % 3 == 2;
        boolean killOld = random.nextBoolean();
        String newHalt = kill && !killOld ? NEW_STEPS.get(random.nextInt(NEW_STEPS.size())) : "-";
        String oldHalt = kill && killOld ? OLD_STEPS.get(random.nextInt(OLD_STEPS.size())) : null;
        handoffGate.lock();
        try {
            attempted.incrementAndGet();
            Child old = current;
            long t0 = System.nanoTime();
            Child next = spares.poll();
            if (next == null || !next.saw("WAITING") && !awaitAny(next, READY_MILLIS, "WAITING").equals("WAITING")) {
                notes.add("hand-off " + (i + 1) + ": the waiting child did not start" + (next == null ? ""
                        : ": " + next.all));
                if (next != null) {
                    next.discard();
                }
                topUpSpares();
                return;
            }
            String began = String.format(java.util.Locale.ROOT, "began %.1f s into the schedule, %d ms waiting for the "
                    + "new side, whose JVM had started %.1f s before", (t0 - scheduleStart) / 1e9,
                    (System.nanoTime() - t0) / 1_000_000, (System.nanoTime() - next.startedAt) / 1e9);
            int round = i + 1;
            long oldPid = old.process.pid();
            Thread probe = new Thread(() -> probeFallback(round, oldPid), "churn-fallback-probe");
            probe.setDaemon(true);
            probing = true;
            probe.start();
            t0 = System.nanoTime();
            next.go(newHalt);
            String seen;
            try {
                if (oldHalt != null) {
                    // the old side is killed when the new one reports the step that follows the old one's
                    String counterpart = switch (oldHalt) {
                        case "old:header" -> "new:header";
                        case "old:fds" -> "new:fds";
                        case "old:layout" -> "new:layout";
                        case "old:proven" -> "new:ready";
                        default -> "new:serving";
                    };
                    seen = awaitAny(next, READY_MILLIS, "STEP " + counterpart, "READY ", "TOOK-OVER", "FALLBACK");
                    stopProbe(probe); // only the old side is timed
                    old.kill();
                    killed.incrementAndGet();
                    notes.add("hand-off " + (i + 1) + ": old side (pid " + old.process.pid() + ") killed -9 at " + oldHalt
                            + " (new side at '" + seen + "')");
                    seen = awaitAny(next, READY_MILLIS, "READY ");
                } else {
                    // the probe stops as the new side has taken over (the old one let go) or halts
                    seen = awaitAny(next, READY_MILLIS, "HALTING", "TOOK-OVER", "FALLBACK");
                    stopProbe(probe);
                    if (!seen.equals("HALTING") && !seen.isEmpty()) {
                        seen = awaitAny(next, READY_MILLIS, "READY ");
                    }
                }
            } finally {
                stopProbe(probe);
                topUpSpares(); // the new side two turns ahead starts now
            }
            if (seen.equals("HALTING")) {
                next.kill();
                killed.incrementAndGet();
                killedNew.incrementAndGet();
                notes.add("hand-off " + (i + 1) + ": new side (pid " + next.process.pid() + ") killed -9 at " + newHalt
                        + "; the old one serves on");
                return;
            }
            if (!seen.startsWith("READY ")) {
                notes.add("hand-off " + (i + 1) + ": the new child did not become READY; its output " + next.all);
                next.discard();
                return;
            }
            current = next;
            long go = t0;
            java.util.function.Function<String, String> at = k -> next.seenAt.containsKey(k)
                    ? String.valueOf((next.seenAt.get(k) - go) / 1_000_000) : "-";
            notes.add(String.format(java.util.Locale.ROOT, "hand-off %d: the new child READY %.3f s after go "
                    + "(ms after go: header %s, ready %s, serving %s, took over %s); %s", i + 1,
                    (System.nanoTime() - t0) / 1e9, at.apply("STEP new:header"), at.apply("STEP new:ready"),
                    at.apply("STEP new:serving"), at.apply(next.saw("FALLBACK") ? "FALLBACK" : "TOOK-OVER"), began));
            if (next.saw("FALLBACK")) {
                fallbacks.incrementAndGet();
                notes.add("hand-off " + (i + 1) + ": the new side fell back (" + next.all + ")");
            } else {
                handoffs.incrementAndGet();
            }
            if (old.process.isAlive()) {
                Thread reaper = new Thread(() -> {
                    try {
                        if (!old.process.waitFor(15, TimeUnit.SECONDS)) {
                            notes.add("hand-off " + (i + 1) + ": the old child (pid " + old.process.pid()
                                    + ") did not exit; stopped");
                            old.stop();
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }, "churn-reaper");
                reaper.setDaemon(true);
                reaper.start();
            }
        } finally {
            handoffGate.unlock();
        }
    }

    private volatile boolean probing;

    /** Times {@code fallback} on the control socket until {@link #stopProbe}. */
    private static final java.util.regex.Pattern IN_FORCE = java.util.regex.Pattern.compile("in force after (\\d+) us");

    /**
     * Times {@code fallback} on the old side's control socket until {@link #stopProbe} (called as the new side
     * reports that it took over, fell back or halts, or before the old side is killed): the round trip, and
     * the old side's own figure from its reply (from the call to the kernel default in force, lock waits
     * included).
     */
    private void probeFallback(int round, long oldPid) {
        int ordinal = 0;
        raisePriority(); // the probe stands for an operator's client, not for this JVM's load
        while (probing && !stop) {
            long c0 = System.nanoTime();
            try (ControlClient c = ControlClient.connect(ctl)) {
                long t0 = System.nanoTime();
                ControlClient.Reply r = c.request("fallback");
                long t1 = System.nanoTime();
                long us = (t1 - t0) / 1000;
                if (r.ok() && probing) {
                    fallbackProbes.incrementAndGet();
                    fallbackDuringHandoffMicros.accumulateAndGet(us, Math::max);
                    java.util.regex.Matcher m = IN_FORCE.matcher(r.toString());
                    long inGroup = m.find() ? Long.parseLong(m.group(1)) : -1;
                    fallbackInForceMicros.accumulateAndGet(inGroup, Math::max);
                    long[] side = serverTimes(c); // the old side's moments of that request (not timed)
                    probeSamples.add(new long[] {round, ++ordinal, us, inGroup, t0, oldPid, c0, t1, side[0], side[1],
                        side[2], side[3], side[4], side[5]});
                }
            } catch (IOException | RuntimeException e) {
                // the old side went away or the socket moved: the next try connects to whoever serves it
            }
            LockSupportSleep.millis(2);
        }
    }

    /**
     * {@code -Dchurn.realtime=N}: the children's control threads and the probe run SCHED_RR at N (1..99;
     * {@code ControlSocket.servingPriority}, as an operator who needs the fallback within a millisecond on a
     * busy machine sets it; by default 1); 0: the control socket's default priority (nice -10).
     */
    public static final int REALTIME = Integer.getInteger("churn.realtime", 1);

    /**
     * {@code -Dchurn.servingNice=N}: once a child serves (READY), every thread of its JVM runs at nice N —
     * its GC and compiler threads too, so that a pause of the serving JVM is not stretched by the next new
     * side's start-up (JIT, class loading) on the same CPUs; a new side starts at the default 0 and takes
     * the serving priority when it serves. 0: off. An operator does the same with {@code renice} or a
     * unit's {@code Nice=} for the serving process and none for the one starting.
     */
    public static final int SERVING_NICE = Integer.getInteger("churn.servingNice", -5);

    /** The calling thread at the control socket's priority, when allowed (else as it was). */
    private void raisePriority() {
        try {
            dev.reuseport.ThreadPriority.set(dev.reuseport.ControlSocket.DEFAULT_SERVING_NICE, REALTIME);
        } catch (IOException | RuntimeException e) {
            if (notes.stream().noneMatch(n -> n.startsWith("fallback probe"))) {
                notes.add("fallback probe at its inherited priority: " + e.getMessage());
            }
        }
    }

    /**
     * The old side's moments of the request just answered on {@code c} ({@code probe-times}: accepted, began
     * on its session thread, read, ran, written; System.nanoTime; and the sessions its thread had served
     * before, -1: a thread started for it beyond the standing ones), 0 (-2 for the last) when it cannot say.
     */
    private static long[] serverTimes(ControlClient c) {
        long[] t = new long[6];
        java.util.Arrays.fill(t, 5, 6, -2);
        try {
            ControlClient.Reply r = c.request("probe-times");
            String[] w = r.text().split(" ");
            if (r.ok() && w.length >= 7 && w[0].equals("times")) {
                for (int k = 0; k < 6; k++) {
                    t[k] = Long.parseLong(w[k + 1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // an old side that went away: the parts stay unknown
        }
        return t;
    }

    private void stopProbe(Thread probe) throws InterruptedException {
        probing = false;
        probe.join(5000);
    }

    /**
     * Whether a failed connection was lost to a kill -9: it was in flight when a child was killed (a kill
     * between its start and its failure) and it failed by a reset or an early end of stream, which is what
     * the kernel does to a connection the killed process had accepted. A timeout or a failed connect is
     * never counted here (nothing the kernel does at a kill explains those), and the report shows the
     * kernel's migration failures beside it (a queued connection reset for want of a listener would look
     * the same; with 0 migration failures none was).
     */
    public boolean lostToKill(PacedTcpLoad.Failure f) {
        String r = f.reason();
        boolean resetOrEnd = r.startsWith("read: ") && (r.contains("reset") || r.contains("before the end of stream"))
                || r.startsWith("write: ") || r.startsWith("shutdownOutput: ");
        if (!resetOrEnd || r.contains("timed out")) {
            return false;
        }
        synchronized (kills) {
            return kills.stream().anyMatch(k -> k >= f.started() && k <= f.seen());
        }
    }

    /** Sleeps without an InterruptedException to handle. */
    private static final class LockSupportSleep {
        static void millis(long ms) {
            java.util.concurrent.locks.LockSupport.parkNanos(ms * 1_000_000L);
        }
    }

    private static final String[] HOSTILE = {"status", "resize 0", "resize 99999", "resize -1", "policy bogus",
        "policy weighted:", "audit -1", "audit 99999999999", "bundle /proc/x", "handoff 1", "handoff", "handoff 2 x",
        "state NOPE", "\u0000\u0001\u0002", "restart now", "\u202e\u001b[31m", "fallback " + "x".repeat(300)};

    private void hostileLoop() {
        while (!stop) {
            try (UnixSocketChannel ch = UnixSocketChannel.open(new UnixSocketAddress(ctl.toFile()))) {
                for (int k = 0; k < 20 && !stop; k++) {
                    int pick = random.nextInt(10);
                    if (pick == 0 && handoffGate.tryLock()) {
                        try {
                            hostileHandoff(ch);
                        } finally {
                            handoffGate.unlock();
                        }
                        break; // the session is in an unknown place now
                    }
                    String line;
                    String kind;
                    if (pick == 1) {
                        byte[] b = new byte[1 + random.nextInt(200)];
                        random.nextBytes(b);
                        line = new String(b, StandardCharsets.ISO_8859_1).replace('\n', ' ');
                        kind = "random";
                    } else if (pick == 2 && random.nextInt(20) == 0) {
                        line = "x".repeat(70_000);
                        kind = "long-line";
                    } else {
                        line = HOSTILE[random.nextInt(HOSTILE.length)];
                        kind = line.split(" ", 2)[0];
                    }
                    long t0 = System.nanoTime();
                    ch.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.ISO_8859_1)));
                    hostileRequests.incrementAndGet();
                    boolean more = readReply(ch);
                    hostileSlowest.merge(kind, (System.nanoTime() - t0) / 1_000, Math::max);
                    if (!more) {
                        break;
                    }
                }
            } catch (IOException | RuntimeException e) {
                // the serving child changed or died: connect again
            }
            LockSupportSleep.millis(2);
        }
    }

    /** A hand-off confirmed without proof: {@code ready} or wrong cookies after reading with plain reads. */
    private void hostileHandoff(UnixSocketChannel ch) throws IOException {
        ch.write(ByteBuffer.wrap("handoff 2\n".getBytes(StandardCharsets.US_ASCII)));
        hostileRequests.incrementAndGet();
        StringBuilder seen = new StringBuilder();
        ByteBuffer b = ByteBuffer.allocate(8192);
        while (seen.indexOf("LAYOUT") < 0 || seen.indexOf("\n", seen.indexOf("LAYOUT")) < 0) {
            b.clear();
            int n = ch.read(b); // plain read: the descriptors are discarded by the kernel
            if (n <= 0 || seen.length() > 100_000) {
                return;
            }
            seen.append(new String(b.array(), 0, n, StandardCharsets.ISO_8859_1));
            if (seen.indexOf("ERR") == 0) {
                return;
            }
        }
        String confirm = random.nextBoolean() ? "ready" : "ready cookies=1,2,3,4";
        ch.write(ByteBuffer.wrap((confirm + "\n").getBytes(StandardCharsets.US_ASCII)));
        hostileRequests.incrementAndGet();
        readReply(ch);
    }

    /** Reads until an {@code OK}/{@code ERR} line; false when the session ended. */
    private static boolean readReply(UnixSocketChannel ch) throws IOException {
        StringBuilder s = new StringBuilder();
        ByteBuffer b = ByteBuffer.allocate(65536);
        while (true) {
            int nl;
            while ((nl = s.indexOf("\n")) >= 0) {
                String line = s.substring(0, nl);
                s.delete(0, nl + 1);
                if (line.startsWith("OK") || line.startsWith("ERR")) {
                    return true;
                }
            }
            b.clear();
            int n = ch.read(b);
            if (n <= 0 || s.length() > 1_000_000) {
                return false;
            }
            s.append(new String(b.array(), 0, n, StandardCharsets.ISO_8859_1));
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        load.stop();
        List<Child> cs;
        synchronized (children) {
            cs = new ArrayList<>(children);
        }
        for (Child c : cs) {
            if (c.input != null) {
                try {
                    c.input.close(); // a waiting child reads end of input and exits
                } catch (IOException e) {
                    // already gone
                }
            }
            c.stop(); // first: the hostile client may wait for a reply from it
            c.reader.join(5000); // its end of the output pipe closes with it
        }
        if (hostile != null) {
            hostile.join(10_000);
        }
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            notes.add("cleaning " + dir + ": " + e);
        }
    }
}
