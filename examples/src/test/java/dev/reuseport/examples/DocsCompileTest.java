package dev.reuseport.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.testkit.DocBlocks;
import dev.reuseport.testkit.DocBlocks.Block;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Docs that compile: every {@code ```java} block of README.md and docs/*.md is compiled against the built
 * modules (this test's class path: core, bpf, native, netty, Netty itself). A block that declares a class
 * with a {@code main} method is compiled as its own file and run in a child JVM: it must start, answer an
 * HTTP request when it prints an {@code http://host:port/} address, and exit 0 once its standard input
 * ends. Any other block is a fragment, compiled as the body of a method with the project's packages (and
 * the JDK's usual ones) imported; a line that is only {@code ...} stands for code left out.
 */
@Tag("kernel")
class DocsCompileTest {
    private static final String FRAGMENT_IMPORTS = String.join("\n",
            "import dev.reuseport.*;", "import dev.reuseport.netty.*;", "import io.netty.channel.*;",
            "import io.netty.channel.epoll.*;", "import io.netty.handler.codec.http.*;", "import java.io.*;",
            "import java.net.*;", "import java.nio.*;", "import java.nio.charset.*;", "import java.nio.file.*;",
            "import java.time.*;", "import java.util.*;", "import java.util.concurrent.*;", "");

    static List<Block> blocks() throws IOException {
        Path root = DocBlocks.projectRoot("README.md");
        List<Path> files = new ArrayList<>();
        files.add(Path.of("README.md"));
        try (Stream<Path> docs = Files.list(root.resolve("docs"))) {
            docs.filter(f -> f.toString().endsWith(".md")).sorted().forEach(files::add);
        }
        // the framework guides whose code this class path has (Spring's page: SpringDocsCompileTest)
        files.add(Path.of("docs/frameworks/grpc.md"));
        List<Block> out = new ArrayList<>();
        for (Path f : files) {
            out.addAll(DocBlocks.javaBlocks(root, f));
        }
        return out;
    }

    static String classPath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    /** The source a block compiles as: itself when complete, else a method body in a class of its own. */
    static String source(Block b, String fragmentClass) {
        if (b.complete()) {
            return b.code();
        }
        String body = b.code().replaceAll("(?m)^\\s*\\.\\.\\.\\s*$", "/* ... */");
        return FRAGMENT_IMPORTS + "class " + fragmentClass + " {\n"
                + "    @SuppressWarnings(\"unused\")\n"
                + "    static void fragment() throws Exception {\n" + body + "\n    }\n}\n";
    }

    /** Compiles {@code sources} (class name to source) into {@code out} against this test's class path. */
    static List<String> compile(java.util.Map<String, String> sources, Path out) {
        return DocBlocks.compile(sources, classPath(), out);
    }

    @Test
    void everyJavaBlockInReadmeAndDocsCompiles() throws Exception {
        List<Block> blocks = blocks();
        assertThat(blocks).as("java blocks found").hasSizeGreaterThanOrEqualTo(4);
        Path out = Files.createTempDirectory("docs-compile");
        List<String> failures = new ArrayList<>();
        int i = 0;
        for (Block b : blocks) {
            String name = b.complete() ? b.className() : "Fragment" + i++;
            List<String> errors = compile(java.util.Map.of(name, source(b, name)), out);
            if (!errors.isEmpty()) {
                failures.add(b.where() + " does not compile:\n  " + String.join("\n  ", errors));
            }
        }
        assertThat(failures).as("java blocks that do not compile").isEmpty();
    }

    @Test
    void completeProgramsInTheDocsRunAndServe() throws Exception {
        Path out = Files.createTempDirectory("docs-run");
        int ran = 0;
        for (Block b : blocks()) {
            if (!b.complete()) {
                continue;
            }
            assertThat(compile(java.util.Map.of(b.className(), b.code()), out)).as(b.where()).isEmpty();
            runAndProbe(b, out);
            ran++;
        }
        assertThat(ran).as("complete programs (README's server at least)").isPositive();
    }

    private static void runAndProbe(Block b, Path classes) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        if (Runtime.version().feature() >= 22) {
            cmd.add("--enable-native-access=ALL-UNNAMED");
        }
        String backend = System.getProperty("reuseport.backend");
        if (backend != null) {
            cmd.add("-Dreuseport.backend=" + backend);
        }
        cmd.addAll(List.of("-cp", classes + java.io.File.pathSeparator + classPath(), b.className(), "0"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String first = r.readLine();
            assertThat(first).as("%s: first line printed", b.where()).isNotNull();
            Matcher m = Pattern.compile("http://([^/:\\s]+):(\\d+)/").matcher(first);
            if (m.find()) {
                try (java.net.Socket s = new java.net.Socket(m.group(1), Integer.parseInt(m.group(2)))) {
                    s.setSoTimeout(5000);
                    s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                            .getBytes(StandardCharsets.US_ASCII));
                    String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                    assertThat(reply).as("%s: its HTTP answer", b.where()).startsWith("HTTP/1.1 200");
                }
            }
            p.getOutputStream().close(); // end of input: the program stops
            assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("%s: exits after its input ends", b.where()).isTrue();
            StringBuilder rest = new StringBuilder();
            String line;
            while ((line = r.readLine()) != null) {
                rest.append(line).append('\n');
            }
            assertThat(p.exitValue()).as("%s: exit status; output: %s%s", b.where(), first, rest).isZero();
        } finally {
            p.destroyForcibly();
        }
    }

    /** The check has teeth: README's first block with one call misspelt no longer compiles, and is reported. */
    @Test
    void aReadmeBlockThatStopsCompilingIsReported() throws Exception {
        Block first = blocks().get(0);
        assertThat(first.where()).startsWith("README.md:");
        Block broken = new Block(first.where(), first.code().replace("group.serve(", "group.serveAll("));
        assertThat(broken.code()).isNotEqualTo(first.code());
        List<String> errors = compile(java.util.Map.of("Broken", source(broken, "Broken")),
                Files.createTempDirectory("docs-broken"));
        assertThat(errors).as("errors for a README block calling a method that does not exist").isNotEmpty()
                .anySatisfy(e -> assertThat(e).contains("serveAll"));
    }
}
