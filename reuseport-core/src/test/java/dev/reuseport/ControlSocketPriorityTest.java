package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.internal.ThreadNice;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Sys;
import dev.reuseport.testkit.ChildJvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The threads serving a control socket (acceptor, session threads) run at a raised priority, so that an
 * emergency {@code fallback} is not left waiting behind a busy machine's run queue (bench soak timed 50 ms
 * round trips, every part of them a thread waiting to run): each thread's nice value is read back from
 * {@code /proc/self/task/<tid>/stat}; without CAP_SYS_NICE the raise is refused, logged once, and the socket
 * serves on.
 */
@Tag("kernel")
@Timeout(120)
class ControlSocketPriorityTest {

    private static Path dir(String name) throws Exception {
        return Files.createTempDirectory(name, PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
    }

    private static void assertNice(Set<Integer> tids, int nice) throws Exception {
        for (int tid : tids) {
            assertThat(ThreadNice.niceOf(tid)).as("nice of serving thread " + tid).isEqualTo(nice);
        }
    }

    @Test
    void servingThreadsRunAtTheRaisedNiceValueAndServe() throws Exception {
        assumeTrue(Sys.uid() == 0, "raising a thread's priority needs CAP_SYS_NICE: run as root");
        Path dir = dir("rp-prio");
        List<ControlClient> held = new ArrayList<>();
        try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(2).open();
             ControlSocket cs = ControlSocket.serve(g, dir.resolve("ctl"), false)) {
            Set<Integer> tids = cs.priority().threads();
            assertThat(tids).as("the acceptor and the standing session threads").hasSize(1 + ControlSessions.STANDING);
            assertNice(tids, ControlSocket.DEFAULT_SERVING_NICE);
            assertThat(ThreadNice.niceOf(Sys.threadId())).as("this (non-serving) thread").isZero();

            // a session thread started beyond the standing ones gets it too
            for (int k = 0; k < ControlSessions.STANDING + 1; k++) {
                ControlClient c = ControlClient.connect(dir.resolve("ctl"));
                held.add(c);
                assertThat(c.request("health").ok()).isTrue();
            }
            assertThat(cs.priority().threads()).hasSizeGreaterThan(1 + ControlSessions.STANDING);
            assertNice(cs.priority().threads(), ControlSocket.DEFAULT_SERVING_NICE);

            cs.servingPriority(5, 0);
            assertNice(cs.priority().threads(), 5);
            cs.servingPriority(-3, 1);
            for (int tid : cs.priority().threads()) {
                assertThat(ThreadNice.schedulerOf(tid)).as("SCHED_RR 1 for thread " + tid).containsExactly(Sys.SCHED_RR, 1);
            }
            assertThat(held.get(0).request("fallback").ok()).isTrue();
            cs.servingPriority(-3, 0);
            for (int tid : cs.priority().threads()) {
                assertThat(ThreadNice.schedulerOf(tid)).as("back to SCHED_OTHER: " + tid).containsExactly(Sys.SCHED_OTHER, 0);
            }
            assertNice(cs.priority().threads(), -3);
            assertThatThrownBy(() -> Sys.setThreadNice(Integer.MAX_VALUE, 0)).isInstanceOf(NativeException.class)
                    .hasMessageContaining("setpriority: ESRCH");
            assertThatThrownBy(() -> Sys.setThreadScheduler(Integer.MAX_VALUE, Sys.SCHED_RR, 1))
                    .isInstanceOf(NativeException.class).hasMessageContaining("sched_setscheduler: ESRCH");
            assertThatThrownBy(() -> cs.servingPriority(20, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("nice 20").hasMessageContaining("-20..19");
            assertThatThrownBy(() -> cs.servingPriority(0, 100)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("realtime 100").hasMessageContaining("1..99");
        } finally {
            for (ControlClient c : held) {
                c.close();
            }
            Files.deleteIfExists(dir.resolve("ctl"));
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void atARealTimePriorityOnlyTheEmergencyCommandsRunRealTime() throws Exception {
        assumeTrue(Sys.uid() == 0, "raising a thread's priority needs CAP_SYS_NICE: run as root");
        Path dir = dir("rp-prio-rt");
        try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(2).open();
             ControlSocket cs = ControlSocket.serve(g, dir.resolve("ctl"), false);
             ControlClient c = ControlClient.connect(dir.resolve("ctl"))) {
            // a command of the application's: how its session thread is scheduled while it runs
            cs.command("sched", (args, body) -> {
                int tid = Sys.threadId();
                int[] s = ThreadNice.schedulerOf(tid);
                return "tid " + tid + " policy " + s[0] + " rt " + s[1] + " nice " + ThreadNice.niceOf(tid);
            });
            cs.servingPriority(-3, 1);
            ControlClient.Reply r = c.request("sched");
            assertThat(r.ok()).isTrue();
            // time-sharing at the serving nice value while it runs (it was SCHED_RR 1 before the fix)
            assertThat(r.text()).endsWith("policy " + Sys.SCHED_OTHER + " rt 0 nice -3");
            int tid = Integer.parseInt(r.text().split(" ")[1]);
            // and the thread is real-time again once the command is done, as are all the serving threads
            assertThat(ThreadNice.schedulerOf(tid)).containsExactly(Sys.SCHED_RR, 1);
            for (int t : cs.priority().threads()) {
                assertThat(ThreadNice.schedulerOf(t)).as("thread " + t).containsExactly(Sys.SCHED_RR, 1);
            }
            assertThat(c.request("fallback").ok()).isTrue();
            assertThat(ControlSessions.URGENT).containsExactlyInAnyOrder("fallback", "health");
            // without a real-time priority nothing changes around a command
            cs.servingPriority(-4, 0);
            assertThat(c.request("sched").text()).endsWith("policy " + Sys.SCHED_OTHER + " rt 0 nice -4");
        } finally {
            Files.deleteIfExists(dir.resolve("ctl"));
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void refusedRaiseIsLoggedOnceAndTheSocketServes() throws Exception {
        assumeTrue(Sys.uid() == 0, "dropping CAP_SYS_NICE from a child needs root here");
        assumeTrue(new java.io.File("/usr/bin/setpriv").canExecute(), "setpriv (util-linux) is not installed");
        ChildJvm.Outcome o = ChildJvm.run(List.of(), List.of("setpriv", "--bounding-set", "-sys_nice", "--inh-caps",
                "-sys_nice"), ControlSocketPriorityScenario.class);
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(o.output()).contains("nice=0").doesNotContain("nice=-")
                .contains("fallback ok=true state ");
        assertThat(o.output().split("fallback ok=true", -1)).as(o.output()).hasSize(3);
        assertThat(o.output().split("was refused", -1)).as("logged once: " + o.output()).hasSize(2);
        assertThat(o.output()).contains("setpriority: EACCES");
        // ThreadPriority: a typed refusal naming the call and errno, and the thread as it was
        assertThat(o.output()).contains("set -5/0 refused: setpriority: EACCES").contains("set 0/1 refused: "
                + "sched_setscheduler: EPERM").doesNotContain("allowed");
        assertThat(o.output().split("; now nice 0 rt 0", -1)).as(o.output()).hasSize(3);
    }
}
