package dev.reuseport.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** echo --metrics-http: a malformed HOST:PORT is a usage error, a taken port an error naming it. */
@Tag("kernel")
@Timeout(60)
class EchoMetricsHttpTest {

    @Test
    void malformedAddressIsAUsageErrorNamingTheValue() {
        StringWriter err = new StringWriter();
        int status = Main.run(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true), "echo",
                "--metrics-http", "localhost9464");
        assertThat(status).isNotZero();
        assertThat(err.toString()).contains("--metrics-http localhost9464; accepted: HOST:PORT");
        err.getBuffer().setLength(0);
        status = Main.run(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true), "echo",
                "--metrics-http", "127.0.0.1:70000");
        assertThat(status).isNotZero();
        assertThat(err.toString()).contains("--metrics-http 127.0.0.1:70000; accepted");
    }

    @Test
    void takenPortIsRefusedNamingIt() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            StringWriter err = new StringWriter();
            int status = Main.run(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true), "echo",
                    "--workers", "2", "--metrics-http", "127.0.0.1:" + taken.getLocalPort());
            assertThat(status).isEqualTo(1);
            assertThat(err.toString()).contains("cannot listen on 127.0.0.1:" + taken.getLocalPort());
        }
    }
}
