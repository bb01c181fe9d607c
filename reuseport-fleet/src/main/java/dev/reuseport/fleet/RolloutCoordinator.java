package dev.reuseport.fleet;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.support.CloseableClient;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Drives the running rollout from etcd's record: applies the next stage when every host of the applied
 * stages reports the current version and K healthy windows (windows the hosts count, never wall clock),
 * holds inside a freeze window, and rolls every host back in one transaction when any host of an applied
 * stage regresses.
 *
 * <p>Only one coordinator drives: it must hold the key {@code rollout-owner}, created in a transaction
 * only when absent and bound to its lease; each of its writes is a transaction conditioned on holding that
 * key and on the record it read. A coordinator that dies stops refreshing its lease; when the lease
 * expires the key goes and another coordinator's {@link #drive} takes it and resumes from the record.
 */
public final class RolloutCoordinator implements AutoCloseable {
    private final Fleet fleet;
    private final Etcd etcd;
    private final String id;
    private Clock clock = Clock.systemUTC();
    private Duration poll = Duration.ofMillis(50);
    private long ttlSeconds = 2;
    private long lease;
    private String ownerValue;
    private CloseableClient keepAlive;
    private volatile boolean stop;
    private volatile long lastRollbackDetectedNanos;

    RolloutCoordinator(Fleet fleet, String id) {
        this.fleet = fleet;
        this.etcd = fleet.etcd;
        this.id = id;
    }

    /**
     * Sets the clock the freeze windows are read on (tests).
     *
     * @param c a UTC clock
     * @return this coordinator
     */
    public RolloutCoordinator clock(Clock c) {
        this.clock = c;
        return this;
    }

    /**
     * Sets how often the record and the statuses are read.
     *
     * @param p 10 ms to 10 s
     * @return this coordinator
     * @throws FleetInputException when out of range
     */
    public RolloutCoordinator poll(Duration p) {
        if (p == null || p.toMillis() < 10 || p.toMillis() > 10_000) {
            throw new FleetInputException("poll " + p + "; accepted: 10 ms .. 10 s");
        }
        this.poll = p;
        return this;
    }

    /**
     * Sets the ownership lease's TTL: how long after this coordinator dies another can take over.
     *
     * @param seconds 1 to 60
     * @return this coordinator
     * @throws FleetInputException when out of range
     */
    public RolloutCoordinator leaseTtl(long seconds) {
        if (seconds < 1 || seconds > 60) {
            throw new FleetInputException("lease TTL " + seconds + " s; accepted: 1..60");
        }
        this.ttlSeconds = seconds;
        return this;
    }

    /**
     * Whether this coordinator holds the rollout now.
     *
     * @return true while its key {@code rollout-owner} is in etcd
     */
    public boolean owns() {
        if (ownerValue == null) {
            return false;
        }
        Map<String, String> f = etcd.fields(etcd.owner());
        return f != null && ownerValue.equals(f.get("owner"));
    }

    /**
     * System.nanoTime() when this coordinator last saw a regression and wrote the rollback.
     *
     * @return the time, or 0 before any
     */
    public long lastRollbackDetectedNanos() {
        return lastRollbackDetectedNanos;
    }

    /** Stops a {@link #drive} in progress at its next poll. */
    public void stop() {
        stop = true;
    }

    /**
     * Takes the rollout (waiting while another coordinator holds it) and drives it until it ends, this
     * coordinator loses it, {@link #stop()} is called, or {@code max} passes.
     *
     * @param max how long to drive at most
     * @return the rollout's phase when it returned ({@code COMPLETED}, {@code ROLLED_BACK}, {@code ABORTED}),
     *         or {@code RUNNING} when it returned earlier, or {@code NONE} when no rollout was ever started
     * @throws FleetException when etcd does not answer for longer than a call's deadline
     */
    public String drive(Duration max) {
        long deadline = System.nanoTime() + max.toNanos();
        stop = false;
        while (!stop && System.nanoTime() < deadline) {
            try {
                if (!acquire()) {
                    RolloutState other = fleet.rollout();
                    if (other == null || !other.running()) {
                        return other == null ? "NONE" : other.phase();
                    }
                    sleep();
                    continue;
                }
                KeyValue kv = etcd.get(etcd.rollout());
                if (kv == null) {
                    return "NONE";
                }
                RolloutState r = RolloutState.from(Fields.decode(kv.getValue().getBytes()));
                if (!r.running()) {
                    release();
                    return r.phase();
                }
                once(r, kv.getModRevision());
            } catch (FleetException e) {
                // etcd is unreachable or has no quorum right now: nothing was half-written (every write is
                // one transaction); try again at the next poll.
                System.getLogger("dev.reuseport.fleet").log(System.Logger.Level.DEBUG, id + ": " + e.getMessage());
            }
            sleep();
        }
        RolloutState r = fleet.rollout();
        return r == null ? "NONE" : r.phase();
    }

    private void once(RolloutState r, long rev) {
        Map<String, String> members = fleet.members();
        Map<String, HostStatus> st = fleet.statuses();
        List<RolloutPlan.Stage> stages = r.plan().stages();
        Set<String> applied = new java.util.LinkedHashSet<>();
        for (int i = 0; i <= r.stage(); i++) {
            applied.addAll(Fleet.hostsOf(stages.get(i), members));
        }
        // A regression in any host that applied a step of this rollout: hard rollback of all, one transaction.
        for (String h : applied) {
            HostStatus s = st.get(h);
            if (s != null && s.regressed() && s.applied().startsWith(r.id() + ".")) {
                lastRollbackDetectedNanos = System.nanoTime();
                write(rev, fleet.rollbackOps(r, "ROLLED_BACK", "host " + h + " regressed in " + s.applied()
                        + " (state " + s.state() + ", setup failures " + s.setupFailures() + ", drops " + s.drops()
                        + ", p99 " + s.p99Micros() + " us)", id));
                return;
            }
        }
        boolean gate = true;
        for (String h : applied) {
            HostStatus s = st.get(h);
            if (s == null || !s.applied().equals(r.version()) || s.healthyWindows() < r.gate() || s.regressed()) {
                gate = false;
                break;
            }
        }
        if (!gate) {
            return;
        }
        LocalTime now = LocalTime.now(clock.withZone(ZoneOffset.UTC));
        for (RolloutPlan.Freeze f : r.plan().freeze()) {
            if (f.contains(now)) {
                return;
            }
        }
        if (r.stage() + 1 < stages.size()) {
            write(rev, fleet.stageOps(r, r.stage() + 1, id));
        } else {
            write(rev, fleet.completeOps(r, id));
        }
    }

    private void write(long rev, List<Op> ops) {
        List<Cmp> ifs = new ArrayList<>();
        ifs.add(new Cmp(Etcd.bs(etcd.owner()), Cmp.Op.EQUAL, CmpTarget.value(Etcd.bs(Fields.encode(
                Map.of("owner", ownerValue))))));
        ifs.add(new Cmp(Etcd.bs(etcd.rollout()), Cmp.Op.EQUAL, CmpTarget.modRevision(rev)));
        etcd.txn(ifs, ops);
    }

    private boolean acquire() {
        if (ownerValue != null && owns()) {
            return true;
        }
        if (lease == 0 || !etcd.keepAlive(lease)) {
            closeKeepAlive();
            lease = etcd.grant(ttlSeconds);
            ownerValue = id + "@" + Long.toHexString(lease);
            keepAlive = etcd.client.getLeaseClient().keepAlive(lease, new StreamObserver<LeaseKeepAliveResponse>() {
                @Override
                public void onNext(LeaseKeepAliveResponse value) {
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                }
            });
        }
        return etcd.txn(List.of(new Cmp(Etcd.bs(etcd.owner()), Cmp.Op.EQUAL, CmpTarget.createRevision(0))),
                List.of(Etcd.putOp(etcd.owner(), Map.of("owner", ownerValue), lease)));
    }

    private void release() {
        if (ownerValue != null) {
            etcd.txn(List.of(new Cmp(Etcd.bs(etcd.owner()), Cmp.Op.EQUAL, CmpTarget.value(Etcd.bs(Fields.encode(
                    Map.of("owner", ownerValue)))))), List.of(Etcd.deleteOp(etcd.owner())));
        }
    }

    private void sleep() {
        try {
            Thread.sleep(poll.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stop = true;
        }
    }

    private void closeKeepAlive() {
        if (keepAlive != null) {
            keepAlive.close();
            keepAlive = null;
        }
    }

    /** Stops refreshing the lease without revoking it, as a killed process would (tests). */
    void abandon() {
        stop = true;
        closeKeepAlive();
    }

    /** Gives the rollout up at once: the ownership lease is revoked, so another coordinator can take it. */
    @Override
    public void close() {
        stop = true;
        closeKeepAlive();
        if (lease != 0) {
            try {
                etcd.revoke(lease);
            } catch (FleetException e) {
                System.getLogger("dev.reuseport.fleet").log(System.Logger.Level.DEBUG, id + ": " + e.getMessage());
            }
            lease = 0;
        }
    }
}
