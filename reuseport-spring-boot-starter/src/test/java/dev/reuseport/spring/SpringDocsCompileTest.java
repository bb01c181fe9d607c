package dev.reuseport.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;

/**
 * The Spring Boot guide's Java blocks (docs/frameworks/spring-boot.md) compile against the starter's class
 * path (the project's DocsCompileTest has no Spring on its class path). Each block is a complete class.
 */
class SpringDocsCompileTest {
    private static final Pattern BLOCK = Pattern.compile("^```java\\s*\\n(.*?)^```", Pattern.MULTILINE | Pattern.DOTALL);

    @Test
    void theGuidesJavaBlocksCompile() throws Exception {
        Path root = Path.of("").toAbsolutePath();
        while (root != null && !Files.exists(root.resolve("docs/frameworks/spring-boot.md"))) {
            root = root.getParent();
        }
        assertThat(root).as("docs/frameworks/spring-boot.md above the working directory").isNotNull();
        String text = Files.readString(root.resolve("docs/frameworks/spring-boot.md"));
        Matcher m = BLOCK.matcher(text);
        List<JavaFileObject> units = new ArrayList<>();
        while (m.find()) {
            String code = m.group(1);
            Matcher c = Pattern.compile("class\\s+(\\w+)").matcher(code);
            assertThat(c.find()).as("a class in %s", code).isTrue();
            units.add(new SimpleJavaFileObject(URI.create("string:///" + c.group(1) + ".java"),
                    JavaFileObject.Kind.SOURCE) {
                @Override
                public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                    return code;
                }
            });
        }
        assertThat(units).as("java blocks in the guide").isNotEmpty();
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assumeTrue(javac != null, "no system Java compiler in " + System.getProperty("java.home"));
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path out = Files.createTempDirectory("spring-docs");
        DiagnosticCollector<JavaFileObject> diags = new DiagnosticCollector<>();
        boolean ok = javac.getTask(null, null, diags, List.of("-classpath", cp, "-d", out.toString(), "-proc:none",
                "-Xlint:none"), null, units).call();
        List<String> errors = new ArrayList<>();
        for (Diagnostic<? extends JavaFileObject> d : diags.getDiagnostics()) {
            if (d.getKind() == Diagnostic.Kind.ERROR) {
                errors.add(d.getSource().getName() + ":" + d.getLineNumber() + ": " + d.getMessage(Locale.ROOT));
            }
        }
        assertThat(errors).as("compile errors").isEmpty();
        assertThat(ok).isTrue();
    }
}
