package dev.reuseport;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Child-process entry point of {@link ControlSocketPriorityTest}: serves two control sockets (two refusals
 * of the raised priority, one log line), prints each serving thread's nice value and the reply to a
 * {@code fallback} request on each; then what {@link ThreadPriority#set} says when it may not raise.
 */
public final class ControlSocketPriorityScenario {
    private ControlSocketPriorityScenario() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("rp-prio-child", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(2).open()) {
            for (int k = 0; k < 2; k++) {
                try (ControlSocket cs = ControlSocket.serve(g, dir.resolve("ctl" + k), false);
                     ControlClient c = ControlClient.connect(dir.resolve("ctl" + k))) {
                    for (int tid : cs.priority().threads()) {
                        System.out.println("nice=" + dev.reuseport.internal.ThreadNice.niceOf(tid));
                    }
                    ControlClient.Reply r = c.request("fallback");
                    System.out.println("fallback ok=" + r.ok() + " " + r.text());
                }
            }
        } finally {
            Files.deleteIfExists(dir);
        }
        // the public lever for a thread of the application's, refused the same way
        for (int[] p : new int[][] {{-5, 0}, {0, 1}}) {
            try {
                ThreadPriority.set(p[0], p[1]);
                System.out.println("set " + p[0] + "/" + p[1] + " allowed");
            } catch (dev.reuseport.sys.NativeException e) {
                System.out.println("set " + p[0] + "/" + p[1] + " refused: " + e.getMessage() + "; now nice "
                        + ThreadPriority.nice() + " rt " + ThreadPriority.realtime());
            }
        }
    }
}
