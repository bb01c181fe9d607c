package dev.reuseport.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Issue 15, Low: bad numbers on the command line are usage errors (exit 64) with one line naming the
 * value, never a stack trace and never a run that sends nothing and exits 0. Each case failed before the
 * fix (load exited 0 having sent nothing; echo --workers 0 printed a stack trace; --take-over without
 * --port fell back to a random port).
 */
class CliArgumentsTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "load --port 9 --threads 0|--threads 0 is out of range",
        "load --port 9 --count -5|--count -5 is out of range",
        "load --port 9 --seconds NaN|--seconds NaN is not accepted",
        "load --port 9 --seconds -1|--seconds -1.0 is not accepted",
        "echo --workers 0|--workers 0 is out of range; accepted: 1..256",
        "echo --workers 300|--workers 300 is out of range; accepted: 1..256",
        "echo --serve --take-over /run/none/ctl|--take-over needs --port",
    })
    void aBadValueIsAUsageErrorNamingIt(String line, String expected) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), line.split(" "));
        assertThat(code).as("exit status; stderr: %s", err).isEqualTo(64);
        assertThat(err.toString()).contains(expected);
        assertThat(err.toString()).as("no stack trace").doesNotContain("\tat ").doesNotContain("Exception");
        assertThat(out.toString()).doesNotContain("attempted");
    }
}
