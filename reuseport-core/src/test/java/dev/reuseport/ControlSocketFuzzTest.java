package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.handoff.Handoff;
import dev.reuseport.internal.wire.ControlLines;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tag;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.statistics.Statistics;

/**
 * Fuzzes the operator's control socket with raw frames: arbitrary bytes (NUL, invalid UTF-8, CR/LF
 * mixes, lines past the 64 KiB limit) and mutations of real commands. One group and one socket serve
 * the whole property. For every frame: each request line gets its reply within 5 s, OK exactly for the
 * valid read-only commands and ERR (without body lines) for everything else; a line over the limit
 * makes the server close the connection, after which a new connection is still served; and the group
 * never changes. Frames holding a request that would be a valid state-changing command ({@code policy},
 * {@code state SHADOW|FALLBACK}, {@code resize}, {@code restart}, {@code fallback}, {@code bundle DIR},
 * {@code handoff 1}) are filtered out, so any change to the group is a server bug. The expectation for a
 * line is computed the way the server reads it: split at '\n', decoded as UTF-8, stripped, split on
 * {@code \s+}.
 */
@Tag("kernel")
class ControlSocketFuzzTest {
    private static final int WORKERS = 4;
    private static final Duration DEADLINE = Duration.ofSeconds(5);
    /** A status request on a new connection every this many tries. */
    private static final int STATUS_EVERY = 250;

    private static Path dir;
    private static ReuseportGroup group;
    private static Controller controller;
    private static ControlSocket socket;
    private static Raw raw;
    private static String status;
    private static int tableVersion;
    private static Policy policy;
    private static int auditEntries;
    private static long started;
    private static long tries;
    private static String controlEcho;
    private static final Map<String, Long> COUNTS = new TreeMap<>();
    private static final Map<String, Long> MICROS = new TreeMap<>();

    @BeforeContainer
    static void serve() throws Exception {
        dir = Files.createTempDirectory("rp-fuzz", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        group = ReuseportGroup.tcp().address(TestTraffic.LO).workers(WORKERS).open();
        controller = Controller.manual(group, Policy.roundRobin(), Controller.Settings.defaults());
        socket = ControlSocket.serve(group, dir.resolve("ctl"), false);
        tableVersion = group.tableVersion();
        policy = group.policy();
        auditEntries = group.audit().entries().size();
        try (Raw r = new Raw(socket.path())) {
            Exchange ex = r.exchange("status\n".getBytes(StandardCharsets.US_ASCII), 1, deadline());
            assertThat(ex.replies()).hasSize(1);
            String last = ex.last(0);
            assertThat(last).startsWith("OK state OBSERVE policy ");
            status = last;
        }
        started = System.nanoTime();
    }

    @AfterContainer
    static void close() throws Exception {
        long elapsed = System.nanoTime() - started;
        AssertionError failed = null;
        try {
            if (socket != null) {
                assertStatusOnNewConnection("at the end");
                try (ControlClient c = ControlClient.connect(socket.path())) {
                    ControlClient.Reply r = c.request("status");
                    assertThat(r.ok()).as("status through ControlClient at the end: %s", r.text()).isTrue();
                    assertThat("OK " + r.text()).isEqualTo(status);
                }
                assertThat(socket.refusedPeers()).isZero();
                assertUnchanged("the end");
                assertOnlySocketInDir();
            }
        } catch (AssertionError e) {
            failed = e;
        } finally {
            closeRaw();
            if (socket != null) {
                socket.close();
            }
            if (controller != null) {
                controller.close();
            }
            if (group != null) {
                group.close();
            }
            if (dir != null) {
                try (Stream<Path> s = Files.walk(dir)) {
                    s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
        System.out.printf(Locale.ROOT, "[fuzz] java %s (%s backend): %d tries, %s in %.1f s%n",
                Runtime.version().feature(), System.getProperty("reuseport.expectBackend", "?"), tries,
                COUNTS.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).collect(Collectors.joining(", ")),
                elapsed / 1e9);
        System.out.println("[fuzz] ms per frame kind: " + MICROS.entrySet().stream()
                .map(e -> e.getKey() + " " + e.getValue() / 1000).collect(Collectors.joining(", ")));
        if (controlEcho != null) {
            System.out.println("[fuzz] first reply echoing control characters: " + controlEcho);
        }
        if (failed != null) {
            throw failed;
        }
    }

    @Property(tries = 10_000, shrinking = ShrinkingMode.BOUNDED)
    void everyFrameIsAnsweredAndChangesNothing(@ForAll("frames") Frame frame,
                                               @ForAll @IntRange(min = 0, max = 9) int connection) throws Exception {
        tries++;
        Statistics.label("frame kind").collect(frame.kind());
        try {
            if (raw == null || connection == 0) {
                closeRaw();
                raw = new Raw(socket.path());
                count("connections", 1);
            }
            int replies = frame.requests().size();
            long t0 = System.nanoTime();
            Exchange ex = raw.exchange(frame.bytes(), replies, deadline());
            MICROS.merge(frame.kind(), (System.nanoTime() - t0) / 1000, Long::sum);
            count("frames", 1);
            count("request lines", frame.requests().size());
            count("bytes", frame.bytes().length);
            assertThat(ex.stale()).as("data or a close before %s was sent", frame).isNull();
            assertThat(ex.timedOut()).as("no complete answer within %s to %s; got %s", DEADLINE, frame, ex).isFalse();
            assertThat(ex.closed()).as("the server closed the connection on %s; got %s", frame, ex).isNull();
            assertThat(ex.leftover()).as("output after the last expected reply to %s", frame).isEmpty();
            assertThat(ex.replies()).as("one reply per request line of %s", frame).hasSize(replies);
            for (int i = 0; i < replies; i++) {
                Req req = frame.requests().get(i);
                String last = ex.last(i);
                if (last.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
                    count("replies echoing control characters", 1);
                    if (controlEcho == null) {
                        controlEcho = printable(last, 120) + " (to " + req + ")";
                    }
                }
                if (req.outcome() == Outcome.OK) {
                    assertThat(last).as("reply to request %d (%s) of %s", i, req, frame).matches("(?s)OK( .*)?");
                    if (req.name().equals("status")) {
                        assertThat(last).as("status after %s", frame).isEqualTo(status);
                    }
                    count("OK", 1);
                } else {
                    assertThat(last).as("reply to request %d (%s) of %s", i, req, frame).startsWith("ERR ");
                    assertThat(ex.replies().get(i)).as("an ERR has no body lines (%s)", frame).hasSize(1);
                    count("ERR", 1);
                }
            }
            assertUnchanged(frame.toString());
            if (tries % STATUS_EVERY == 0) {
                assertStatusOnNewConnection("after try " + tries);
                assertOnlySocketInDir();
            }
        } catch (Throwable t) {
            closeRaw();
            throw t;
        }
    }

    // ---- the frames ----

    /** How the server must answer one request line. */
    enum Outcome { OK, ERR, CHANGES_STATE }

    /** One request line as the server will read it: its command word and the answer expected. */
    record Req(Outcome outcome, String name) {
        @Override
        public String toString() {
            return outcome + " " + printable(name, 24);
        }
    }

    /** A frame: bytes ending with '\n', and the requests the server reads from them, each answered. */
    record Frame(String kind, byte[] bytes, List<Req> requests, boolean readOnly) {
        @Override
        public String toString() {
            return kind + " frame of " + bytes.length + " bytes " + requests + " \"" + printable(
                    new String(bytes, StandardCharsets.ISO_8859_1), 160) + "\"";
        }
    }

    static Frame frame(String kind, byte[] body) {
        byte[] bytes = body.length > 0 && body[body.length - 1] == '\n' ? body
                : java.util.Arrays.copyOf(body, body.length + 1);
        bytes[bytes.length - 1] = '\n';
        List<Req> requests = new ArrayList<>();
        boolean readOnly = true;
        int from = 0;
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] != '\n') {
                continue;
            }
            Req r = expect(java.util.Arrays.copyOfRange(bytes, from, i));
            from = i + 1;
            readOnly &= r.outcome() != Outcome.CHANGES_STATE;
            requests.add(r);
        }
        return new Frame(kind, bytes, List.copyOf(requests), readOnly);
    }

    /** The answer the server owes one line (without its '\n'), read the way ControlSocket reads it. */
    static Req expect(byte[] lineBytes) {
        if (lineBytes.length > ControlLines.MAX_LINE) {
            return new Req(Outcome.ERR, "");
        }
        String line = new String(lineBytes, StandardCharsets.UTF_8).replaceAll("^[ \\t\\n\\x0B\\f\\r]+|[ \\t\\n\\x0B\\f\\r]+$", "");
        if (line.isEmpty()) {
            return new Req(Outcome.ERR, "");
        }
        List<String> words = new ArrayList<>(List.of(line.split("[ \\t\\n\\x0B\\f\\r]+")));
        String name = words.remove(0);
        return new Req(outcome(name, words), name);
    }

    private static Outcome outcome(String name, List<String> a) {
        switch (name) {
            case "status", "health":
                return a.isEmpty() ? Outcome.OK : Outcome.ERR;
            case "metrics":
                return a.isEmpty() || a.equals(List.of("--prom")) ? Outcome.OK : Outcome.ERR;
            case "audit":
                return a.isEmpty() || a.size() == 1 && a.get(0).matches("\\d{1,5}") ? Outcome.OK : Outcome.ERR;
            case "state":
                if (a.isEmpty()) {
                    return Outcome.OK;
                }
                Controller.State target;
                try {
                    target = Controller.State.valueOf(a.get(0).toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    return Outcome.ERR;
                }
                // The controller stays in OBSERVE (asserted), from where only SHADOW and FALLBACK are allowed.
                return target == Controller.State.SHADOW || target == Controller.State.FALLBACK
                        ? Outcome.CHANGES_STATE : Outcome.ERR;
            case "policy":
                if (a.size() != 1) {
                    return Outcome.ERR;
                }
                try {
                    Policy p = Policy.parse(a.get(0));
                    return p instanceof Policy.Weighted w && w.weights().length != WORKERS
                            ? Outcome.ERR : Outcome.CHANGES_STATE;
                } catch (RuntimeException e) {
                    return Outcome.ERR;
                }
            case "resize":
                if (a.size() != 1 || !a.get(0).matches("\\d{1,9}")) {
                    return Outcome.ERR;
                }
                int n = Integer.parseInt(a.get(0));
                return n < 1 || n > ReuseportGroup.MAX_WORKERS ? Outcome.ERR : Outcome.CHANGES_STATE;
            case "restart":
                return a.isEmpty() ? Outcome.CHANGES_STATE : Outcome.ERR;
            case "fallback":
                return Outcome.CHANGES_STATE;
            case "bundle":
                // One argument would write a directory wherever it names: never sent.
                return a.size() == 1 ? Outcome.CHANGES_STATE : Outcome.ERR;
            case "handoff":
                return a.equals(List.of(String.valueOf(Handoff.VERSION))) ? Outcome.CHANGES_STATE : Outcome.ERR;
            default:
                return Outcome.ERR;
        }
    }

    private static final byte[] INTERESTING = bytes(0x00, '\n', '\r', ' ', '\t', 0x0b, 0x0c, 0x1c, 0x1f, 0x1b, 0x7f,
            0x80, 0xbf, 0xc0, 0xc2, 0xc3, 0xa0, 0xe2, 0x80, 0xa8, 0xed, 0xf0, 0xf4, 0xf8, 0xfe, 0xff, 'O', 'K', 'E', 'R',
            's', 't', 'a', 'u', 'S', 'H', '0', '1', '4', '9', '-', ':', ',', '/', '.', '%', '\'', '"', '\\');

    private static final List<String> TOKENS = List.of("status", "health", "metrics", "--prom", "--json", "state", "SHADOW",
            "shadow", "ENFORCE", "enforce", "OBSERVE", "FALLBACK", "SIDEWAYS", "ſhadow", "policy", "round-robin",
            "ROUND-ROBIN", "kernel-hash", "consistent", "sticky", "cpu", "weighted:1,2,3,4", "weighted:1,2,3",
            "weighted:1,x", "weighted:0,0,0,0", "weighted:-1,1,1,1", "weighted:", "resize", "4", "0", "257", "1",
            "-1", "007", "999999999", "1000000000", "audit", "5", "99999", "100000", "bundle", "/proc/x", "handoff",
            "2", "01", "fallback", "restart", "OK", "ERR", "\u0000", "\u00e9", "\u20ac", "\ufffd", "\uffff",
            "\ud83d\ude00", "\u202e", "\u001b[31m", "x".repeat(50), "%s", "${x}");

    private static final List<String> SEPARATORS = List.of(" ", " ", " ", "  ", "\t", "\u000b", "\f", "\r", "\u001c",
            "\u00a0", "\u2003", "\u3000", "\u0000", "");

    /** Valid commands to mutate; the bundle path is inside the temp dir (never sent unmutated anyway). */
    private static List<String> seeds() {
        return List.of("status", "health", "metrics --prom", "metrics", "state", "audit 5", "state SHADOW x",
                "policy weighted:1,2,3,4", "policy round-robin", "resize 4", "bundle " + dir.resolve("bundle"),
                "handoff 1", "fallback", "restart");
    }

    private static final List<String> ENDINGS = List.of("\n", "\n", "\n", "\r\n", "\r\r\n", " \n", "\t\n",
            "\u0000\n", "\n\n", "\n\r\n", "\u2028\n", "\u0085\n");

    private static final List<String> PREFIXES = List.of("", "", "", " ", "\t", "\r", "\u001c", "\u00a0", "\u2003",
            "\ufeff", "\u0000");

    @Provide
    Arbitrary<Frame> frames() {
        return Arbitraries.frequencyOf(
                Tuple.of(45, randomBytes()),
                Tuple.of(35, interestingBytes()),
                Tuple.of(50, tokens()),
                Tuple.of(95, mutatedCommands()),
                Tuple.of(15, readOnlyCommands()),
                Tuple.of(20, batches()),
                // about 1 in 130 (no edge cases mixed in): the server reads a line byte by byte, 0.1-0.3 s
                // for each 64 KiB one; the boundary lengths come up often enough on their own
                Tuple.of(2, longLines().withoutEdgeCases()))
                .filter(Frame::readOnly);
    }

    private Arbitrary<Frame> randomBytes() {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(300).map(b -> frame("bytes", b));
    }

    private Arbitrary<Frame> interestingBytes() {
        return Arbitraries.of(boxed(INTERESTING)).list().ofMaxSize(120).map(l -> frame("interesting", unbox(l)));
    }

    private Arbitrary<Frame> tokens() {
        return Combinators.combine(Arbitraries.of(PREFIXES), Arbitraries.of(TOKENS).list().ofMinSize(1).ofMaxSize(5),
                Arbitraries.of(SEPARATORS).list().ofSize(5), Arbitraries.of(ENDINGS)).as((pre, ts, seps, end) -> {
                    StringBuilder b = new StringBuilder(pre);
                    for (int i = 0; i < ts.size(); i++) {
                        b.append(i == 0 ? "" : seps.get(i)).append(ts.get(i));
                    }
                    return frame("tokens", b.append(end).toString().getBytes(StandardCharsets.UTF_8));
                });
    }

    private Arbitrary<Frame> mutatedCommands() {
        Arbitrary<Byte> value = Arbitraries.frequencyOf(Tuple.of(3, Arbitraries.of(boxed(INTERESTING))),
                Tuple.of(1, Arbitraries.bytes()));
        Arbitrary<Mutation> mutation = Combinators.combine(Arbitraries.integers().between(0, 6),
                Arbitraries.integers().between(0, 1 << 16), value).as(Mutation::new);
        return Combinators.combine(Arbitraries.of(PREFIXES), Arbitraries.of(seeds()), mutation.list().ofMaxSize(4),
                Arbitraries.of(ENDINGS)).as((pre, seed, ms, end) -> {
                    byte[] b = (pre + seed).getBytes(StandardCharsets.UTF_8);
                    for (Mutation m : ms) {
                        b = m.apply(b);
                    }
                    return frame(ms.isEmpty() ? "command" : "mutated", concat(List.of(b,
                            end.getBytes(StandardCharsets.UTF_8))));
                });
    }

    /** Valid read-only requests (status ignores its arguments), with odd whitespace around them. */
    private Arbitrary<Frame> readOnlyCommands() {
        return Combinators.combine(Arbitraries.of(PREFIXES), Arbitraries.of("status", "metrics", "metrics --prom",
                "state", "audit", "audit 0", "audit 5", "audit 00007", "audit 99999", "status -v", "status \u0000\u00ff"),
                Arbitraries.of(" ", " ", "  ", "\t", "\u000b", "\f", "\r", "\t \u000b"), Arbitraries.of(ENDINGS))
                .as((pre, c, sep, end) -> frame("read-only", (pre + c.replace(" ", sep) + end)
                        .getBytes(StandardCharsets.UTF_8)));
    }

    private Arbitrary<Frame> batches() {
        return Arbitraries.oneOf(randomBytes(), interestingBytes(), tokens(), mutatedCommands()).list().ofMinSize(2)
                .ofMaxSize(6).map(fs -> frame("batch", concat(fs.stream().map(Frame::bytes).toList())));
    }

    /** Lines around and past the 64 KiB limit (up to 70,000 bytes), ASCII or multi-byte filler. */
    private Arbitrary<Frame> longLines() {
        Arbitrary<Integer> length = Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.of(ControlLines.MAX_LINE - 1, ControlLines.MAX_LINE, ControlLines.MAX_LINE + 1,
                        ControlLines.MAX_LINE + 2)),
                Tuple.of(2, Arbitraries.integers().between(60_000, 70_000)));
        Arbitrary<String> prefix = Arbitraries.of("", "status ", "resize ", "metrics ", "audit ", "policy weighted:",
                "state ", "handoff ", "x");
        Arbitrary<byte[]> filler = Arbitraries.of("a", "1", "1,", " ", "\u00e9", "\u20ac", "\r", "x\t", "\u0000")
                .map(s -> s.getBytes(StandardCharsets.UTF_8));
        Arbitrary<byte[]> invalid = Arbitraries.of(bytes(0xff), bytes(0xc3), bytes(0xe2, 0x82));
        return Combinators.combine(prefix, length, Arbitraries.oneOf(filler, invalid), Arbitraries.of("", "status\n"))
                .as((pre, len, fill, after) -> {
                    byte[] line = new byte[len];
                    byte[] p = pre.getBytes(StandardCharsets.UTF_8);
                    System.arraycopy(p, 0, line, 0, p.length);
                    for (int i = p.length; i < len; i++) {
                        line[i] = fill[(i - p.length) % fill.length];
                    }
                    return frame("long", concat(List.of(line, ("\n" + after).getBytes(StandardCharsets.UTF_8))));
                });
    }

    /** One byte-level change: flip a bit, replace, insert, delete, duplicate a run, swap case, truncate. */
    record Mutation(int op, int at, byte value) {
        byte[] apply(byte[] b) {
            int n = b.length;
            if (n == 0) {
                return new byte[] {value};
            }
            int i = at % n;
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            switch (op) {
                case 0 -> {
                    byte[] c = b.clone();
                    c[i] ^= (byte) (1 << (value & 7));
                    return c;
                }
                case 1 -> {
                    byte[] c = b.clone();
                    c[i] = value;
                    return c;
                }
                case 2 -> {
                    out.write(b, 0, i);
                    out.write(value);
                    out.write(b, i, n - i);
                }
                case 3 -> {
                    out.write(b, 0, i);
                    out.write(b, i + 1, n - i - 1);
                }
                case 4 -> {
                    int len = Math.min(n - i, (value & 7) + 1);
                    out.write(b, 0, i + len);
                    out.write(b, i, n - i);
                }
                case 5 -> {
                    byte[] c = b.clone();
                    c[i] = Character.isLetter(c[i]) ? (byte) (c[i] ^ 0x20) : c[i];
                    return c;
                }
                default -> out.write(b, 0, i);
            }
            return out.toByteArray();
        }
    }

    // ---- checks ----

    private static void assertUnchanged(String after) {
        assertThat(group.tableVersion()).as("table version after %s", after).isEqualTo(tableVersion);
        assertThat(controller.state()).as("controller state after %s", after).isEqualTo(Controller.State.OBSERVE);
        assertThat(group.workers()).as("workers after %s", after).hasSize(WORKERS);
        assertThat(group.policy()).as("policy after %s", after).isSameAs(policy);
        assertThat(group.audit().entries()).as("audit trail after %s", after).hasSize(auditEntries);
        assertThat(socket.handedOff()).as("handed off after %s", after).isFalse();
    }

    private static void assertStatusOnNewConnection(String when) throws IOException {
        try (Raw r = new Raw(socket.path())) {
            Exchange ex = r.exchange("status\n".getBytes(StandardCharsets.US_ASCII), 1, deadline());
            assertThat(ex.timedOut()).as("status on a new connection %s timed out", when).isFalse();
            assertThat(ex.replies()).as("status on a new connection %s: %s", when, ex).hasSize(1);
            assertThat(ex.last(0)).as("status on a new connection %s", when).isEqualTo(status);
        }
        count("status checks", 1);
    }

    private static void assertOnlySocketInDir() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString())).as("files in %s", dir).containsExactly("ctl");
        }
    }

    // ---- raw connection ----

    /** What came back for one frame. */
    record Exchange(List<List<String>> replies, String leftover, String closed, String writeError, boolean timedOut,
                    String stale) {
        String last(int i) {
            List<String> r = replies.get(i);
            return r.get(r.size() - 1);
        }

        @Override
        public String toString() {
            return replies.size() + " replies " + replies.stream().map(r -> printable(r.get(r.size() - 1), 80)).toList()
                    + (leftover.isEmpty() ? "" : ", leftover '" + printable(leftover, 80) + "'")
                    + (closed == null ? "" : ", closed (" + closed + ")")
                    + (writeError == null ? "" : ", write failed (" + writeError + ")")
                    + (timedOut ? ", timed out" : "");
        }
    }

    /** A connection that writes frames exactly as given (no framing of its own) and reads with a deadline. */
    static final class Raw implements AutoCloseable {
        private final SocketChannel channel;
        private final Selector selector;
        private final SelectionKey key;
        private final ByteBuffer in = ByteBuffer.allocate(64 * 1024);

        Raw(Path path) throws IOException {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(UnixDomainSocketAddress.of(path));
                ch.configureBlocking(false);
                selector = Selector.open();
                key = ch.register(selector, 0);
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
            channel = ch;
        }

        /**
         * Writes {@code frame} while reading, until {@code replies} replies (each ending in an OK or ERR
         * line) have come, or the server closes, or the deadline passes.
         */
        Exchange exchange(byte[] frame, int replies, long deadline) throws IOException {
            in.clear();
            String stale = null;
            try {
                int n = channel.read(in);
                if (n != 0) {
                    stale = n < 0 ? "closed" : n + " bytes: " + printable(new String(in.array(), 0, n,
                            StandardCharsets.UTF_8), 80);
                }
            } catch (IOException e) {
                stale = "reset: " + e.getMessage();
            }
            ByteBuffer out = ByteBuffer.wrap(frame);
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            List<List<String>> done = new ArrayList<>();
            List<String> current = new ArrayList<>();
            String closed = null;
            String writeError = null;
            boolean timedOut = false;
            while (closed == null && (done.size() < replies || out.hasRemaining())) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    timedOut = true;
                    break;
                }
                boolean writing = out.hasRemaining() && writeError == null;
                key.interestOps(SelectionKey.OP_READ | (writing ? SelectionKey.OP_WRITE : 0));
                selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                selector.selectedKeys().clear();
                if (writing) {
                    try {
                        channel.write(out);
                    } catch (IOException e) {
                        writeError = e.getMessage();
                    }
                }
                in.clear();
                int n;
                try {
                    n = channel.read(in);
                } catch (IOException e) {
                    closed = "reset: " + e.getMessage();
                    break;
                }
                if (n < 0) {
                    closed = "end of stream";
                    break;
                }
                for (int i = 0; i < n; i++) {
                    byte b = in.get(i);
                    if (b != '\n') {
                        line.write(b);
                        continue;
                    }
                    String l = line.toString(StandardCharsets.UTF_8);
                    line.reset();
                    current.add(l);
                    if (l.equals("OK") || l.startsWith("OK ") || l.startsWith("ERR ")) {
                        done.add(List.copyOf(current));
                        current.clear();
                    }
                }
            }
            String leftover = String.join("\n", current) + (current.isEmpty() ? "" : "\n")
                    + line.toString(StandardCharsets.UTF_8);
            return new Exchange(done, leftover, closed, writeError, timedOut, stale);
        }

        @Override
        public void close() throws IOException {
            try {
                selector.close();
            } finally {
                channel.close();
            }
        }
    }

    // ---- helpers ----

    private static long deadline() {
        return System.nanoTime() + DEADLINE.toNanos();
    }

    private static void closeRaw() {
        if (raw != null) {
            try {
                raw.close();
            } catch (IOException e) {
                // already gone
            }
            raw = null;
        }
    }

    private static synchronized void count(String what, long n) {
        COUNTS.merge(what, n, Long::sum);
    }

    static String printable(String s, int max) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && b.length() < max; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c < 0x7f) {
                b.append(c);
            } else if (c == '\n') {
                b.append("\\n");
            } else if (c == '\r') {
                b.append("\\r");
            } else {
                b.append(String.format("\\x%02x", (int) c));
            }
        }
        return s.length() > max ? b + "...(" + s.length() + ")" : b.toString();
    }

    private static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    private static List<Byte> boxed(byte[] b) {
        List<Byte> l = new ArrayList<>();
        for (byte x : b) {
            l.add(x);
        }
        return l;
    }

    private static byte[] unbox(List<Byte> l) {
        byte[] b = new byte[l.size()];
        for (int i = 0; i < b.length; i++) {
            b[i] = l.get(i);
        }
        return b;
    }

    private static byte[] concat(List<byte[]> parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.write(p, 0, p.length);
        }
        return out.toByteArray();
    }
}
