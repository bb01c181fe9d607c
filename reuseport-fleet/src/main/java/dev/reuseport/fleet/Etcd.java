package dev.reuseport.fleet;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The fleet's keys under {@code /reuseport/fleet/<service>/} and blocking calls with a deadline over a
 * jetcd client (the client retries on its own; a call that has not answered by its deadline fails).
 */
final class Etcd {
    static final Duration CALL = Duration.ofMillis(Long.getLong("reuseport.fleet.callMillis", 5000));

    final Client client;
    final String prefix;

    Etcd(Client client, String service) {
        this.client = client;
        this.prefix = "/reuseport/fleet/" + service + "/";
    }

    static Client connect(List<String> endpoints) {
        return Client.builder().endpoints(endpoints.toArray(String[]::new)).retryMaxAttempts(2).retryDelay(50)
                .retryMaxDelay(200).build();
    }

    // --- keys ---
    String member(String host) {
        return prefix + "members/" + host;
    }

    String members() {
        return prefix + "members/";
    }

    String status(String host) {
        return prefix + "hosts/" + host;
    }

    String statuses() {
        return prefix + "hosts/";
    }

    String desiredFleet() {
        return prefix + "desired/fleet";
    }

    String desiredGroup(String group) {
        return prefix + "desired/group/" + group;
    }

    String desiredHost(String host) {
        return prefix + "desired/host/" + host;
    }

    String desiredHosts() {
        return prefix + "desired/host/";
    }

    String rollout() {
        return prefix + "rollout";
    }

    String owner() {
        return prefix + "rollout-owner";
    }

    // --- calls ---
    static ByteSequence bs(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    static ByteSequence bs(byte[] b) {
        return ByteSequence.from(b);
    }

    static String str(ByteSequence b) {
        return b.toString(StandardCharsets.UTF_8);
    }

    static <T> T await(CompletableFuture<T> f, Duration d, String what) {
        try {
            return f.get(d.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new FleetException(what + ": interrupted", e);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new FleetException(what + ": etcd did not answer within " + d.toMillis() + " ms", e);
        } catch (ExecutionException e) {
            throw new FleetException(what + ": " + e.getCause(), e.getCause());
        }
    }

    /** One key, or null. */
    KeyValue get(String key) {
        List<KeyValue> kvs = await(client.getKVClient().get(bs(key)), CALL, "get " + key).getKvs();
        return kvs.isEmpty() ? null : kvs.get(0);
    }

    Map<String, String> fields(String key) {
        KeyValue kv = get(key);
        return kv == null ? null : Fields.decode(kv.getValue().getBytes());
    }

    /** Every key under a prefix, by the part after the prefix. */
    Map<String, Map<String, String>> under(String p) {
        List<KeyValue> kvs = await(client.getKVClient().get(bs(p), GetOption.builder().isPrefix(true).build()),
                CALL, "get " + p + "*").getKvs();
        Map<String, Map<String, String>> m = new LinkedHashMap<>();
        for (KeyValue kv : kvs) {
            m.put(str(kv.getKey()).substring(p.length()), Fields.decode(kv.getValue().getBytes()));
        }
        return m;
    }

    void put(String key, Map<String, ?> value, long lease) {
        PutOption o = lease == 0 ? PutOption.DEFAULT : PutOption.builder().withLeaseId(lease).build();
        await(client.getKVClient().put(bs(key), bs(Fields.encode(value)), o), CALL, "put " + key);
    }

    void delete(String key) {
        await(client.getKVClient().delete(bs(key), DeleteOption.DEFAULT), CALL, "delete " + key);
    }

    boolean txn(List<Cmp> ifs, List<Op> thens) {
        TxnResponse r = await(client.getKVClient().txn().If(ifs.toArray(Cmp[]::new)).Then(thens.toArray(Op[]::new))
                .commit(), CALL, "txn");
        return r.isSucceeded();
    }

    static Op putOp(String key, Map<String, ?> value) {
        return Op.put(bs(key), bs(Fields.encode(value)), PutOption.DEFAULT);
    }

    static Op putOp(String key, Map<String, ?> value, long lease) {
        return Op.put(bs(key), bs(Fields.encode(value)), PutOption.builder().withLeaseId(lease).build());
    }

    static Op deleteOp(String key) {
        return Op.delete(bs(key), DeleteOption.DEFAULT);
    }

    long grant(long ttlSeconds) {
        return await(client.getLeaseClient().grant(ttlSeconds), CALL, "lease grant").getID();
    }

    /** Refreshes a lease; false when etcd no longer has it (it expired). */
    boolean keepAlive(long lease) {
        try {
            return await(client.getLeaseClient().keepAliveOnce(lease), CALL, "lease keep-alive").getTTL() > 0;
        } catch (FleetException e) {
            if (String.valueOf(e.getMessage()).contains("requested lease not found")) {
                return false;
            }
            throw e;
        }
    }

    void revoke(long lease) {
        await(client.getLeaseClient().revoke(lease), CALL, "lease revoke");
    }

    /** Revokes a lease, waiting at most {@code wait} for etcd (it expires by itself otherwise). */
    void revoke(long lease, Duration wait) {
        await(client.getLeaseClient().revoke(lease), wait, "lease revoke");
    }

    static void checkName(String what, String v) {
        if (v == null || !v.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
            throw new FleetInputException(what + " " + (v == null ? "null" : "'" + v + "'")
                    + " is not accepted; accepted: 1 to 63 of A-Z a-z 0-9 . _ - starting with a letter or digit");
        }
    }
}
