package dev.reuseport.vertx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.testkit.ChildJvm;
import dev.reuseport.testkit.ChildLines;
import dev.reuseport.testkit.DocBlocks;
import io.netty.channel.epoll.Epoll;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The Vert.x guide's Java blocks (docs/frameworks/vertx.md) compile against this module's test class path
 * (the project's DocsCompileTest has no Vert.x on its class path), on both suites, and its complete program
 * runs as the guide says (on the FFM suite): one instance serving a control socket answers; a second one started with the same path
 * takes the group over and answers on the same port; the first exits 0 on its own; the second exits 0
 * when its standard input ends.
 */
@Tag("kernel")
@Timeout(180)
class VertxDocsCompileTest {
    private static final Pattern SERVING = Pattern.compile("http://127\\.0\\.0\\.1:(\\d+)/");
    static final Duration WAIT = Duration.ofSeconds(90);

    @Test
    void theGuidesProgramCompilesAndHandsItsGroupToASecondInstance() throws Exception {
        Path root = DocBlocks.projectRoot("docs/frameworks/vertx.md");
        Map<String, String> sources = new LinkedHashMap<>();
        String program = null;
        for (DocBlocks.Block b : DocBlocks.javaBlocks(root, Path.of("docs/frameworks/vertx.md"))) {
            assertThat(b.className()).as("a class in the block at %s", b.where()).isNotNull();
            if (b.complete()) {
                program = b.className();
            }
            assertThat(sources.put(b.className(), b.code())).as("a second block declaring %s, at %s", b.className(),
                    b.where()).isNull();
        }
        assertThat(program).as("a complete program among the guide's java blocks").isNotNull();
        Path work = Files.createTempDirectory("vertx-docs", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Path out = Files.createDirectories(work.resolve("classes"));
        assertThat(DocBlocks.compile(sources, ChildJvm.classPath(), out)).as("compile errors").isEmpty();

        assumeTrue(Epoll.isAvailable(), "Netty native epoll unavailable: " + Epoll.unavailabilityCause());
        // the run proves the guide, not the backend (VertxCrossProcessHandoffTest hands off on both): two
        // JVM starts in a row, once per suite is enough
        assumeTrue(Runtime.version().feature() >= 22, "the guide's program runs on the FFM suite (JDK 22+) only; "
                + "compiled here");
        Class<?> main;
        try (URLClassLoader l = new URLClassLoader(new java.net.URL[] {out.toUri().toURL()},
                getClass().getClassLoader())) {
            main = Class.forName(program, false, l);
        }
        String ctl = work.resolve("ctl").toString();
        try (ChildLines first = ChildLines.start("doc-1", command(main, out, "0", ctl))) {
            int port = port(first.await(WAIT, "Vert.x on "), "opened");
            assertThat(get(port)).isEqualTo("hello from " + first.process().pid());
            try (ChildLines second = ChildLines.start("doc-2", command(main, out, Integer.toString(port), ctl))) {
                assertThat(port(second.await(WAIT, "Vert.x on "), "taken over")).isEqualTo(port);
                assertThat(first.await(WAIT, "handed off")).as("the first instance was handed off").isNotNull();
                assertThat(first.awaitExit(WAIT)).as("the first instance's exit status").isZero();
                assertThat(get(port)).isEqualTo("hello from " + second.process().pid());
                second.process().getOutputStream().close(); // end of input: the program stops
                assertThat(second.awaitExit(WAIT)).as("the second instance's exit status").isZero();
            }
        } finally {
            try (var s = Files.walk(work)) {
                s.sorted(java.util.Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
            }
        }
    }

    /** The guide's program in a child JVM like this one, its compiled class first on the class path. */
    private static List<String> command(Class<?> main, Path classes, String... args) {
        List<String> cmd = ChildJvm.javaCommand(main, args);
        int cp = cmd.indexOf("-cp") + 1;
        cmd.set(cp, classes + File.pathSeparator + cmd.get(cp));
        return cmd;
    }

    /** The port of the program's first line, which must say {@code how} the group came. */
    private static int port(String line, String how) {
        assertThat(line).as("the program's first line").isNotNull().contains(how);
        Matcher p = SERVING.matcher(line);
        assertThat(p.find()).as("an address in %s", line).isTrue();
        return Integer.parseInt(p.group(1));
    }

    /** {@code GET /} on a new connection; the body of a 200 answer, trimmed. Up to 3 tries (a cold server). */
    private static String get(int port) throws IOException {
        IOException last = null;
        for (int i = 0; i < 3; i++) {
            try {
                return getOnce(port);
            } catch (IOException e) {
                last = e;
            }
        }
        throw last;
    }

    private static String getOnce(int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(5000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            String r = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(r).as("the HTTP answer").startsWith("HTTP/1.1 200");
            return r.substring(r.indexOf("\r\n\r\n") + 4).trim();
        }
    }
}
