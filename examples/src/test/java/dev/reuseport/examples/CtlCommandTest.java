package dev.reuseport.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.ControlSocket;
import dev.reuseport.ReuseportGroup;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** ctl as a tool people script: exit codes, JSON output, --version, the socket from the environment, health. */
@Tag("kernel")
@Timeout(60)
class CtlCommandTest {
    private Path dir;
    private ReuseportGroup group;
    private ControlSocket socket;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @BeforeEach
    void serve() throws Exception {
        dir = Files.createTempDirectory("rp-ctl", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        group = ReuseportGroup.tcp().address(InetAddress.getLoopbackAddress()).workers(2).open();
        socket = ControlSocket.serve(group, dir.resolve("ctl"), false);
    }

    @AfterEach
    void close() throws Exception {
        CtlCommand.env = System::getenv;
        socket.close();
        group.close();
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private int ctl(String... args) {
        String[] all = new String[args.length + 1];
        all[0] = "ctl";
        System.arraycopy(args, 0, all, 1, args.length);
        return Main.run(new PrintWriter(out, true), new PrintWriter(err, true), all);
    }

    @Test
    void okRefusedUnreachableAndUsageHaveDistinctExitCodes() {
        assertThat(ctl("--socket", socket.path().toString(), "status")).isZero();
        assertThat(ctl("--socket", socket.path().toString(), "resize", "lots")).as(err.toString()).isEqualTo(1);
        assertThat(ctl("--socket", dir.resolve("nobody").toString(), "status")).isEqualTo(2);
        assertThat(err.toString()).contains("cannot reach " + dir.resolve("nobody"));
        assertThat(ctl("--socket", socket.path().toString())).as("no command").isEqualTo(64);
        assertThat(ctl("--socket", socket.path().toString(), "--bogus", "status")).isEqualTo(64);
        assertThat(ctl("--socket", socket.path().toString(), "-o", "yaml", "status")).isEqualTo(64);
        assertThat(err.toString()).contains("-o yaml is not an output format; accepted: text, json");
    }

    @Test
    void socketComesFromTheEnvironmentAndItsAbsenceIsAUsageError() {
        CtlCommand.env = k -> null;
        assertThat(ctl("status")).isEqualTo(64);
        assertThat(err.toString()).contains("give --socket PATH or set REUSEPORT_CTL_SOCKET");
        CtlCommand.env = k -> k.equals("REUSEPORT_CTL_SOCKET") ? socket.path().toString() : null;
        assertThat(ctl("health")).as(err.toString()).isZero();
        assertThat(out.toString()).contains("ready: 2 workers on TCP port " + group.localAddress().getPort());
    }

    @Test
    void jsonOutputBeforeOrAfterTheCommand() {
        assertThat(ctl("--socket", socket.path().toString(), "-o", "json", "status")).isZero();
        assertThat(out.toString().trim()).startsWith("{\"command\":\"status\",\"socket\":\"" + socket.path()
                + "\",\"ok\":true,\"unreachable\":false,\"text\":\"state - policy kernel-hash").endsWith("]}")
                .doesNotContain("\n");
        out.getBuffer().setLength(0);
        assertThat(ctl("--socket", socket.path().toString(), "resize", "x", "-o", "json")).isEqualTo(1);
        assertThat(out.toString()).startsWith("{\"command\":\"resize x\"").contains("\"ok\":false")
                .contains("\"error\":\"resize takes a worker count");
        out.getBuffer().setLength(0);
        assertThat(ctl("--socket", dir.resolve("none").toString(), "-o", "json", "health")).isEqualTo(2);
        assertThat(out.toString()).contains("\"unreachable\":true");
    }

    @Test
    void versionPrintsTheReleaseAndPromMetricsPipeAsIs() {
        assertThat(ctl("--version")).isZero();
        assertThat(out.toString()).startsWith("reuseport ctl ");
        out.getBuffer().setLength(0);
        assertThat(ctl("--socket", socket.path().toString(), "metrics", "--prom")).isZero();
        String[] lines = out.toString().split("\n");
        assertThat(lines[0]).startsWith("# HELP ");
        assertThat(lines[lines.length - 1]).doesNotStartWith("OK").doesNotContain("exposition");
    }
}
