package dev.reuseport.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.testkit.ChildJvm;
import dev.reuseport.testkit.DocBlocks;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Spring Boot guide's Java blocks (docs/frameworks/spring-boot.md) compile against the starter's class
 * path (the project's DocsCompileTest has no Spring on its class path). Each block is a complete class.
 */
class SpringDocsCompileTest {
    @Test
    void theGuidesJavaBlocksCompile() throws Exception {
        Path root = DocBlocks.projectRoot("docs/frameworks/spring-boot.md");
        Map<String, String> sources = new LinkedHashMap<>();
        for (DocBlocks.Block b : DocBlocks.javaBlocks(root, Path.of("docs/frameworks/spring-boot.md"))) {
            assertThat(b.className()).as("a class in the block at %s", b.where()).isNotNull();
            assertThat(sources.put(b.className(), b.code())).as("a second block declaring %s, at %s", b.className(),
                    b.where()).isNull();
        }
        assertThat(sources).as("java blocks in the guide").isNotEmpty();
        Path out = Files.createTempDirectory("spring-docs");
        assertThat(DocBlocks.compile(sources, ChildJvm.classPath(), out)).as("compile errors").isEmpty();
    }
}
