package dev.reuseport.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** jetcd (gRPC over Netty) against one real etcd member: put, get, a lease, a transaction, on this JDK. */
class FleetClientSmokeTest {
    @Test
    void clientPutsReadsAndLeasesOnThisJdk() throws Exception {
        String why = LocalEtcd.unavailabilityCause();
        assumeTrue(why == null, () -> "skipped: " + why);
        Path dir = Files.isDirectory(Path.of("/dev/shm"))
                ? Files.createTempDirectory(Path.of("/dev/shm"), "etcd-smoke") : Files.createTempDirectory("etcd-smoke");
        try (LocalEtcd etcd = LocalEtcd.start(1, dir); Fleet fleet = Fleet.connect(etcd.endpoints(), "smoke")) {
            Etcd e = fleet.etcd;
            e.put(e.member("h1"), Map.of("group", "g"), 0);
            assertThat(fleet.members()).containsEntry("h1", "g");
            long lease = e.grant(2);
            e.put(e.status("h1"), Map.of("state", "OBSERVE"), lease);
            assertThat(fleet.statuses()).containsKey("h1");
            assertThat(e.keepAlive(lease)).isTrue();
            e.revoke(lease);
            assertThat(fleet.statuses()).isEmpty();
            assertThat(e.txn(List.of(new io.etcd.jetcd.op.Cmp(Etcd.bs(e.owner()), io.etcd.jetcd.op.Cmp.Op.EQUAL,
                    io.etcd.jetcd.op.CmpTarget.createRevision(0))), List.of(Etcd.putOp(e.owner(), Map.of("owner", "a")))))
                    .isTrue();
            assertThat(e.txn(List.of(new io.etcd.jetcd.op.Cmp(Etcd.bs(e.owner()), io.etcd.jetcd.op.Cmp.Op.EQUAL,
                    io.etcd.jetcd.op.CmpTarget.createRevision(0))), List.of(Etcd.putOp(e.owner(), Map.of("owner", "b")))))
                    .as("a second create of the owner key fails").isFalse();
            System.out.println("jetcd on JDK " + Runtime.version().feature() + " ok against " + etcd.endpoints());
        }
    }
}
