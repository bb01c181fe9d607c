package dev.reuseport.testkit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;

/**
 * The {@code ```java} blocks of a documentation page, found and compiled the one way every docs-compile
 * test uses: a block runs from a line {@code ```java} to the next line starting with {@code ```}; it is
 * compiled with the system Java compiler ({@code -proc:none -Xlint:none}) against a class path, and every
 * error diagnostic is reported with its source and line. A JDK without a compiler skips the test with the
 * reason.
 */
public final class DocBlocks {
    /** A fenced Java block of a Markdown page: its text is group 1. */
    public static final Pattern JAVA_BLOCK = Pattern.compile("^```java\\s*\\n(.*?)^```",
            Pattern.MULTILINE | Pattern.DOTALL);
    private static final Pattern CLASS = Pattern.compile("(?:public\\s+)?(?:final\\s+)?class\\s+(\\w+)");

    private DocBlocks() {
    }

    /**
     * One block of a page.
     *
     * @param where the page relative to the project root and the line of its opening fence, e.g.
     *              {@code docs/frameworks/vertx.md:27}
     * @param code  the block's text, without its fences
     */
    public record Block(String where, String code) {
        /**
         * Whether the block is a complete program (it declares {@code public static void main(}).
         *
         * @return true for a program
         */
        public boolean complete() {
            return code.contains("public static void main(");
        }

        /**
         * The first class the block declares.
         *
         * @return its simple name, or null when the block declares none
         */
        public String className() {
            Matcher m = CLASS.matcher(code);
            return m.find() ? m.group(1) : null;
        }
    }

    /**
     * The project's root: the nearest directory, from the working directory up, that holds
     * {@code marker} (a path relative to it, such as {@code docs/frameworks/vertx.md}).
     *
     * @param marker a file the root holds
     * @return the root
     * @throws IllegalStateException no directory above the working directory holds it
     */
    public static Path projectRoot(String marker) {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve(marker))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("no " + marker + " above " + Path.of("").toAbsolutePath()
                    + "; accepted: a working directory inside the project");
        }
        return p;
    }

    /**
     * The Java blocks of one page, in order.
     *
     * @param root the project root ({@link #projectRoot})
     * @param page the page, relative to {@code root} or absolute
     * @return its blocks, each with where it starts
     * @throws IOException the page cannot be read
     */
    public static List<Block> javaBlocks(Path root, Path page) throws IOException {
        Path file = root.resolve(page);
        String text = Files.readString(file);
        List<Block> out = new ArrayList<>();
        Matcher m = JAVA_BLOCK.matcher(text);
        while (m.find()) {
            int line = 1 + (int) text.substring(0, m.start()).chars().filter(c -> c == '\n').count();
            out.add(new Block(root.relativize(file) + ":" + line, m.group(1)));
        }
        return out;
    }

    /**
     * Compiles sources into {@code out} against {@code classPath}; skips the calling test (an assumption)
     * when this JDK has no system Java compiler.
     *
     * @param sources   the sources by class name (each compiled as {@code <name>.java})
     * @param classPath what they compile against ({@link ChildJvm#classPath()} for the test's own)
     * @param out       where the classes go
     * @return the errors ({@code file:line: message}), empty when everything compiled
     */
    public static List<String> compile(Map<String, String> sources, String classPath, Path out) {
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
        boolean ok = javac.getTask(null, null, diags, List.of("-classpath", classPath, "-d", out.toString(),
                "-proc:none", "-Xlint:none"), null, units).call();
        List<String> errors = new ArrayList<>();
        for (Diagnostic<? extends JavaFileObject> d : diags.getDiagnostics()) {
            if (d.getKind() == Diagnostic.Kind.ERROR) {
                errors.add((d.getSource() == null ? "?" : d.getSource().getName()) + ":" + d.getLineNumber() + ": "
                        + d.getMessage(Locale.ROOT));
            }
        }
        if (!ok && errors.isEmpty()) {
            errors.add("javac failed without an error diagnostic");
        }
        return errors;
    }
}
