package dev.reuseport.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * ctl rollout / ctl fleet: bad input is a usage error (64) naming the value, decided before etcd is asked
 * (the endpoint here has nothing listening, so any write attempt would show as exit 2 instead).
 */
class FleetCtlTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @AfterEach
    void env() {
        CtlCommand.env = System::getenv;
    }

    private int ctl(String... args) {
        CtlCommand.env = k -> null;
        String[] all = new String[args.length + 1];
        all[0] = "ctl";
        System.arraycopy(args, 0, all, 1, args.length);
        return Main.run(new PrintWriter(out, true), new PrintWriter(err, true), all);
    }

    @Test
    void badInputIsAUsageErrorNamingTheValue() {
        assertThat(ctl("rollout", "status")).isEqualTo(64);
        assertThat(err.toString()).contains("--etcd").contains("REUSEPORT_ETCD");
        // the fleet's options follow the command words (ctl's own options come before them)
        String[] where = {"--etcd", "http://127.0.0.1:1", "--service", "web"};
        assertThat(ctl(concat(new String[] {"rollout", "start"}, where, "--id", "r1", "--policy", "fastest", "--stages", "hosts:h1")))
                .isEqualTo(64);
        assertThat(err.toString()).contains("fastest").contains("accepted");
        assertThat(ctl(concat(new String[] {"rollout", "start"}, where, "--id", "r1", "--policy", "consistent", "--stages", ";")))
                .isEqualTo(64);
        assertThat(err.toString()).contains("no stages");
        assertThat(ctl(concat(new String[] {"rollout", "start"}, where, "--id", "r1", "--policy", "consistent", "--stages", "hosts:h1",
                "--freeze", "noon-ish"))).isEqualTo(64);
        assertThat(err.toString()).contains("noon-ish");
        assertThat(ctl(concat(new String[] {"rollout", "start"}, where, "--id", "r1", "--policy", "consistent", "--stages",
                "group:web@150%"))).isEqualTo(64);
        assertThat(err.toString()).contains("150%");
        assertThat(ctl(concat(new String[] {"fleet", "reboot"}, where))).isEqualTo(64);
        assertThat(err.toString()).contains("accepted: rollout start|drive|status|abort");
        assertThat(ctl(concat(new String[] {"fleet", "status", "--colour", "red"}, where))).isEqualTo(64);
        assertThat(err.toString()).contains("--colour");
    }

    private static String[] concat(String[] a, String[] b, String... c) {
        java.util.List<String> r = new java.util.ArrayList<>(java.util.List.of(a));
        r.addAll(java.util.List.of(b));
        r.addAll(java.util.List.of(c));
        return r.toArray(String[]::new);
    }
}
