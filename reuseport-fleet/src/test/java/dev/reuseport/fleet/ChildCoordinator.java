package dev.reuseport.fleet;

import java.time.Duration;
import java.util.List;

/**
 * A coordinator in its own JVM (the tests kill it with {@code kill -9}): {@code ENDPOINTS SERVICE ID}. It
 * drives rollouts for 60 s at most, then exits by itself. Its ownership lease is 1 s: a killed one is
 * replaced 1 s after its last keep-alive.
 */
public final class ChildCoordinator {
    private ChildCoordinator() {
    }

    /**
     * Drives.
     *
     * @param args etcd endpoints (comma-separated), service, coordinator id
     */
    public static void main(String[] args) {
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        try (Fleet f = Fleet.connect(List.of(args[0].split(",")), args[1]);
             RolloutCoordinator c = f.coordinator(args[2]).leaseTtl(1)) {
            System.out.println("coordinator " + args[2] + " pid " + ProcessHandle.current().pid() + " driving");
            System.out.flush();
            while (System.nanoTime() < end) {
                String phase = c.drive(Duration.ofSeconds(5));
                System.out.println("drive returned " + phase);
                System.out.flush();
            }
        }
    }
}
