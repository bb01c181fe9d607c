package dev.reuseport.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** README's first command: the echo demo serves on all 8 workers and its table adds up. */
@Tag("kernel")
class EchoDemoTest {

    @Test
    void demoTableShowsAllEightWorkersAndCountsMatchWhatClientsSent() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), "echo", "--workers", "8");
        String text = out.toString();
        System.out.println(text);
        assertThat(status).as("exit status; stderr: %s", err).isZero();
        assertThat(text).containsPattern("SO_REUSEPORT\\s+ON").contains("steering kernel hash");
        Pattern row = Pattern.compile("^(\\d+)\\s+(\\d+)\\s+[\\d.]+%\\s+\\S+\\s+(\\d+)\\s+[\\d.]+%\\s+(\\d+)$",
                Pattern.MULTILINE);
        Matcher m = row.matcher(text);
        long tcp = 0;
        long udp = 0;
        int rows = 0;
        while (m.find()) {
            rows++;
            assertThat(Long.parseLong(m.group(2))).as("tcp on slot %s", m.group(1)).isPositive();
            assertThat(Long.parseLong(m.group(3))).as("udp on slot %s", m.group(1)).isPositive();
            tcp += Long.parseLong(m.group(2));
            udp += Long.parseLong(m.group(3));
        }
        assertThat(rows).isEqualTo(8);
        assertThat(tcp).isEqualTo(2000);
        assertThat(udp).isEqualTo(2000);
        assertThat(text).contains("tcp: 2000 connections sent, 2000 echoed, 0 failed")
                .contains("udp: 2000 datagrams sent, 2000 echoed, 0 lost");
    }

    @Test
    void unknownProtocolIsRejectedWithTheAcceptedValues() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), "echo", "--protocol", "sctp");
        assertThat(status).isNotZero();
        assertThat(err.toString()).contains("--protocol sctp is not accepted; accepted: tcp, udp, both");
    }
}
