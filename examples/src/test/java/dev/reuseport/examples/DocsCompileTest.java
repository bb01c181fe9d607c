package dev.reuseport.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
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
    private static final Pattern BLOCK = Pattern.compile("^```java\\s*\\n(.*?)^```", Pattern.MULTILINE | Pattern.DOTALL);
    private static final String FRAGMENT_IMPORTS = String.join("\n",
            "import dev.reuseport.*;", "import dev.reuseport.netty.*;", "import io.netty.channel.*;",
            "import io.netty.channel.epoll.*;", "import io.netty.handler.codec.http.*;", "import java.io.*;",
            "import java.net.*;", "import java.nio.*;", "import java.nio.charset.*;", "import java.nio.file.*;",
            "import java.time.*;", "import java.util.*;", "import java.util.concurrent.*;", "");

    /** One block: where it is, and its text. */
    record Block(String where, String code) {
        boolean complete() {
            return code.contains("public static void main(");
        }

        String className() {
            Matcher m = Pattern.compile("(?:public\\s+)?(?:final\\s+)?class\\s+(\\w+)").matcher(code);
            return m.find() ? m.group(1) : "Unnamed";
        }
    }

    static Path projectRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("README.md"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("no README.md above " + Path.of("").toAbsolutePath());
        }
        return p;
    }

    static List<Block> blocks() throws IOException {
        Path root = projectRoot();
        List<Path> files = new ArrayList<>();
        files.add(root.resolve("README.md"));
        try (Stream<Path> docs = Files.list(root.resolve("docs"))) {
            docs.filter(f -> f.toString().endsWith(".md")).sorted().forEach(files::add);
        }
        // the framework guides whose code this class path has (Spring's page: SpringDocsCompileTest)
        files.add(root.resolve("docs/frameworks/grpc.md"));
        List<Block> out = new ArrayList<>();
        for (Path f : files) {
            String text = Files.readString(f);
            Matcher m = BLOCK.matcher(text);
            while (m.find()) {
                int line = 1 + (int) text.substring(0, m.start()).chars().filter(c -> c == '\n').count();
                out.add(new Block(root.relativize(f) + ":" + line, m.group(1)));
            }
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

    /** Compiles {@code sources} (class name to source) into {@code out}; the errors, empty when it compiled. */
    static List<String> compile(java.util.Map<String, String> sources, Path out) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assumeTrue(javac != null, "no system Java compiler in " + System.getProperty("java.home"));
        List<JavaFileObject> units = new ArrayList<>();
        sources.forEach((name, src) -> units.add(new SimpleJavaFileObject(URI.create("string:///" + name + ".java"),
                JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                return src;
            }
        }));
        DiagnosticCollector<JavaFileObject> diags = new DiagnosticCollector<>();
        boolean ok = javac.getTask(null, null, diags, List.of("-classpath", classPath(), "-d", out.toString(),
                "-proc:none", "-Xlint:none"), null, units).call();
        List<String> errors = new ArrayList<>();
        for (Diagnostic<? extends JavaFileObject> d : diags.getDiagnostics()) {
            if (d.getKind() == Diagnostic.Kind.ERROR) {
                errors.add(d.getSource().getName() + ":" + d.getLineNumber() + ": " + d.getMessage(Locale.ROOT));
            }
        }
        if (!ok && errors.isEmpty()) {
            errors.add("javac failed without an error diagnostic");
        }
        return errors;
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
