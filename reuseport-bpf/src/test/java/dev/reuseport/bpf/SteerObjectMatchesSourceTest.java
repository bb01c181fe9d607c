package dev.reuseport.bpf;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.testkit.KernelAssumptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The committed {@code steer.bpf.o} is the one its source builds to: the manifest records both hashes,
 * the JAR ships the same bytes, and with the recorded clang a fresh build is byte-identical. The
 * working directory is the module directory.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class SteerObjectMatchesSourceTest {
    private static final Path BPF = Path.of("src", "main", "bpf");
    private static final Path SOURCE = BPF.resolve("steer.bpf.c");
    private static final Path OBJECT = BPF.resolve("steer.bpf.o");
    private static final Path MANIFEST = BPF.resolve("steer.bpf.o.sha256");

    private static String sha256(byte[] data) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    /** {@code source}, {@code object}, {@code clang} lines of the manifest. */
    private static Map<String, String> manifest() throws IOException {
        assertThat(MANIFEST).as("manifest (working directory %s)", Path.of("").toAbsolutePath()).isRegularFile();
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : Files.readAllLines(MANIFEST, StandardCharsets.UTF_8)) {
            int sp = line.indexOf(' ');
            if (sp > 0) {
                m.put(line.substring(0, sp), line.substring(sp + 1).trim());
            }
        }
        assertThat(m).as("manifest %s", MANIFEST).containsKeys("source", "object", "clang");
        return m;
    }

    @Test
    void manifestRecordsTheSourceHash() throws Exception {
        assertThat(sha256(Files.readAllBytes(SOURCE)))
                .as("sha256 of %s; a stale manifest means the object was not rebuilt (run build-bpf.sh)", SOURCE)
                .isEqualTo(manifest().get("source"));
    }

    @Test
    void manifestRecordsTheObjectHash() throws Exception {
        assertThat(sha256(Files.readAllBytes(OBJECT))).as("sha256 of %s", OBJECT).isEqualTo(manifest().get("object"));
    }

    @Test
    void classPathObjectIsTheCommittedOne() throws Exception {
        byte[] shipped;
        try (var in = SteerProgram.class.getResourceAsStream(SteerProgram.OBJECT)) {
            assertThat(in).as("resource %s beside %s", SteerProgram.OBJECT, SteerProgram.class.getName()).isNotNull();
            shipped = in.readAllBytes();
        }
        byte[] committed = Files.readAllBytes(OBJECT);
        assertThat(sha256(shipped)).as("resource %s beside %s vs %s", SteerProgram.OBJECT,
                SteerProgram.class.getName(), OBJECT).isEqualTo(sha256(committed));
        assertThat(shipped).isEqualTo(committed);
    }

    @Test
    void freshBuildWithTheRecordedClangIsByteIdentical() throws Exception {
        // clang's output does not depend on the JDK running this test: the build is compared once, on the
        // JDK 22+ run of the suite (on JDK 17 a loaded machine took 24 s for it); the hashes above run on both
        org.junit.jupiter.api.Assumptions.assumeTrue(Runtime.version().feature() >= 22,
                "the fresh clang build is compared once, on the JDK 22+ run of the suite: it does not depend on the JDK");
        String recorded = manifest().get("clang");
        String why = skipReason(recorded);
        if (why != null) {
            System.out.println("SteerObjectMatchesSourceTest: byte comparison with a fresh build skipped: " + why);
        }
        // reported as skipped (with the reason), never as a pass that compared nothing
        org.junit.jupiter.api.Assumptions.assumeTrue(why == null, "byte comparison with a fresh build skipped: " + why);
        Path log = Files.createTempFile("build-bpf-check", ".log");
        try {
            Process p = new ProcessBuilder("bash", BPF.resolve("build-bpf.sh").toString(), "--check")
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            boolean done = p.waitFor(120, TimeUnit.SECONDS);
            if (!done) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            String out = Files.readString(log);
            System.out.println("build-bpf.sh --check: " + out.strip());
            assertThat(done).as("build-bpf.sh --check finished in 120 s; output: %s", out).isTrue();
            assertThat(p.exitValue()).as("build-bpf.sh --check exit status with %s; output: %s", recorded, out)
                    .isZero();
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /** Null when clang and llvm-strip are installed and clang is the recorded one; else why not. */
    private static String skipReason(String recorded) throws InterruptedException {
        for (String tool : List.of("clang", "llvm-strip")) {
            if (!KernelAssumptions.onPath(tool)) {
                return tool + " is not installed (apt-get install clang llvm)";
            }
        }
        String first;
        try {
            Process p = new ProcessBuilder("clang", "--version").redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "clang --version did not finish";
            }
            String text = new String(out, StandardCharsets.UTF_8);
            first = text.lines().findFirst().orElse("").strip();
        } catch (IOException e) {
            return "cannot run clang --version: " + e;
        }
        if (!first.equals(recorded)) {
            return "installed clang is '" + first + "', the object was built with '" + recorded + "'";
        }
        return null;
    }

}
