package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.testkit.ChildJvm;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The emergency lever pays no first-use costs (issue 15's soak: {@code fallback} during a hand-off, in a
 * child JVM that had never run it, took up to 25 ms round trip and 7.8 ms inside the group). In a fresh
 * JVM that opened a group and serves its control socket and has answered nothing yet, an operator's first
 * request, {@code fallback}, must load (almost) no class: the control socket prepared the accept, session,
 * command and fallback paths when it opened, without changing any state, and a session thread was already
 * running. Counted with the JVM's own class-loading counter around the request (the client side warmed on
 * a socket of its own first), which is deterministic where a wall-clock bound on a shared machine is not;
 * the round trips and in-group figures of the first three requests are printed beside it.
 *
 * <p>On the code before the fix, the first request loaded the classes of the accept and session path, the
 * command's and the fallback's (see the output for the count).
 */
@Tag("kernel")
@Timeout(120)
class FreshJvmFallbackTest {
    /** Classes the first request may load: a few for what no preparation can reach (none expected). */
    static final int MAX_CLASSES_LOADED_BY_THE_FIRST_FALLBACK = 3;

    private static final Pattern LINE = Pattern.compile("FALLBACK (\\d) classes=(\\d+) round_trip_us=(\\d+) "
            + "in_group_us=(-?\\d+) reply=(.*)");

    /** The child: a group of 4, its control socket, then three {@code fallback} requests from itself. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            Path dir = Path.of(args[0]);
            loadedClasses(); // its own classes first
            try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(4).open();
                 ControlSocket cs = ControlSocket.serve(g, dir.resolve("ctl"), false)) {
                warmClient(dir.resolve("warm"));
                Thread.sleep(500); // what the open started in the background settles
                for (int i = 1; i <= 3; i++) {
                    long before = loadedClasses();
                    long t0 = System.nanoTime();
                    String reply = request(cs.path(), "fallback first-use check");
                    long us = (System.nanoTime() - t0) / 1000;
                    long loaded = loadedClasses() - before;
                    Matcher m = Pattern.compile("in force after (\\d+) us").matcher(reply);
                    System.out.println("FALLBACK " + i + " classes=" + loaded + " round_trip_us=" + us + " in_group_us="
                            + (m.find() ? m.group(1) : "-1") + " reply=" + reply);
                    Thread.sleep(20);
                }
            }
        }

        private static Object classLoading;
        private static java.lang.reflect.Method totalLoaded;

        /**
         * Classes loaded by this JVM since it started (ClassLoadingMXBean, by reflection: the tests are
         * patched into the library's module, which does not read java.management).
         */
        static long loadedClasses() throws ReflectiveOperationException {
            if (classLoading == null) {
                classLoading = Class.forName("java.lang.management.ManagementFactory").getMethod("getClassLoadingMXBean")
                        .invoke(null);
                totalLoaded = Class.forName("java.lang.management.ClassLoadingMXBean")
                        .getMethod("getTotalLoadedClassCount");
                totalLoaded.invoke(classLoading);
            }
            return (Long) totalLoaded.invoke(classLoading);
        }

        /** The client side of {@link #request}, run against a socket of this JVM's own. */
        private static void warmClient(Path p) throws Exception {
            try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                s.bind(UnixDomainSocketAddress.of(p));
                Thread t = new Thread(() -> {
                    for (int i = 0; i < 2; i++) {
                        try (SocketChannel c = s.accept()) {
                            ByteBuffer b = ByteBuffer.allocate(256);
                            while (c.read(b) > 0 && b.get(b.position() - 1) != '\n') {
                                // until the line ends
                            }
                            c.write(ByteBuffer.wrap("OK state warm, kernel default in force after 1 us\n"
                                    .getBytes(StandardCharsets.US_ASCII)));
                        } catch (IOException e) {
                            return;
                        }
                    }
                });
                t.start();
                for (int i = 0; i < 2; i++) {
                    Pattern.compile("in force after (\\d+) us").matcher(request(p, "fallback warm")).find();
                }
                t.join(10_000);
            } finally {
                Files.deleteIfExists(p);
            }
        }

        /** One request on a new connection; the reply's lines up to its OK or ERR line. */
        static String request(Path p, String line) throws IOException {
            try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(p))) {
                c.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.US_ASCII)));
                StringBuilder reply = new StringBuilder();
                ByteBuffer b = ByteBuffer.allocate(4096);
                while (c.read(b) > 0) {
                    reply.append(new String(b.array(), 0, b.position(), StandardCharsets.UTF_8));
                    b.clear();
                    String r = reply.toString();
                    int last = r.lastIndexOf('\n', r.length() - 2) + 1;
                    if (r.endsWith("\n") && (r.startsWith("OK", last) || r.startsWith("ERR", last))) {
                        break;
                    }
                }
                return reply.toString().trim();
            }
        }
    }

    @Test
    void aFreshJvmsFirstFallbackOnTheControlSocketLoadsNoClasses() throws Exception {
        Path dir = Files.createTempDirectory("rp-fresh-fb", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        try {
            ChildJvm.Outcome o = ChildJvm.run(Child.class, dir.toString());
            assertThat(o.exit()).as(o.output()).isZero();
            long[] loaded = new long[3];
            for (String l : o.output().split("\n")) {
                Matcher m = LINE.matcher(l.trim());
                if (m.matches()) {
                    assertThat(m.group(5)).as("reply to fallback %s", m.group(1)).startsWith("OK");
                    loaded[Integer.parseInt(m.group(1)) - 1] = Long.parseLong(m.group(2));
                }
            }
            assertThat(o.output()).contains("FALLBACK 3 ");
            assertThat(loaded[0]).as("classes loaded by a fresh JVM's first fallback request: %s", o.output())
                    .isLessThanOrEqualTo(MAX_CLASSES_LOADED_BY_THE_FIRST_FALLBACK);
        } finally {
            try (var s = Files.list(dir)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }
}
