package dev.reuseport;

import dev.reuseport.bpf.SteerProgram;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The forensic bundle the incident runbook asks for: one directory with the capability report, kernel
 * release and version, the relevant sysctls (read, never written), the policy history and whole audit
 * trail, a metrics snapshot (table and Prometheus text), and the steering maps' contents.
 */
final class Bundle {
    /** The sysctls that decide reuseport behaviour, read from this network namespace. */
    static final String[] SYSCTLS = {"net/ipv4/tcp_migrate_req", "net/core/somaxconn", "net/ipv4/tcp_max_syn_backlog",
        "net/core/rmem_default", "net/core/rmem_max", "net/ipv4/tcp_tw_reuse", "net/ipv4/ip_local_port_range",
        "net/core/netdev_max_backlog", "kernel/unprivileged_bpf_disabled", "net/core/bpf_jit_enable"};

    /** The files a bundle holds. */
    static final List<String> FILES = List.of("capabilities.txt", "kernel.txt", "sysctls.txt", "policy-history.txt",
            "audit.jsonl", "metrics.txt", "metrics.prom", "bpf-maps.txt");

    private Bundle() {
    }

    /**
     * Writes the bundle into {@code dir}, which must not exist yet (its parent must); returns the files
     * written. Nothing in the group changes.
     */
    static List<Path> write(ReuseportGroup group, Path dir) throws IOException {
        if (dir == null) {
            throw new IllegalArgumentException("bundle directory null; accepted: a path that does not exist yet");
        }
        if (Files.exists(dir)) {
            throw new IllegalArgumentException("bundle directory " + dir + " exists; accepted: a path that does not "
                    + "exist yet (a bundle never overwrites)");
        }
        Path parent = dir.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent) || !Files.isWritable(parent)) {
            throw new IllegalArgumentException("bundle directory " + dir + " cannot be created: its parent " + parent
                    + " is not a writable directory; accepted: a new path in a writable directory");
        }
        try {
            Files.createDirectory(dir);
        } catch (IOException e) {
            throw new IllegalArgumentException("bundle directory " + dir + " cannot be created (" + e.getClass()
                    .getSimpleName() + (e.getMessage() != null ? ": " + e.getMessage() : "") + "); accepted: a new path in a "
                    + "writable directory", e);
        }
        List<Path> out = new ArrayList<>();
        Capabilities caps = group.capabilities();
        out.add(put(dir, "capabilities.txt", caps.toTable()));
        StringBuilder k = new StringBuilder("release " + caps.kernelRelease() + "\n");
        k.append("version ").append(read("/proc/version")).append('\n');
        k.append("backend ").append(caps.backend()).append(" (").append(caps.backendReason()).append(")\n");
        k.append("java ").append(Runtime.version()).append('\n');
        out.add(put(dir, "kernel.txt", k.toString()));
        StringBuilder sc = new StringBuilder();
        for (String s : SYSCTLS) {
            sc.append(s.replace('/', '.')).append(" = ").append(read("/proc/sys/" + s)).append('\n');
        }
        out.add(put(dir, "sysctls.txt", sc.toString()));
        StringBuilder hist = new StringBuilder("policy now: " + group.policy().spec() + " generation "
                + group.generation() + " state " + group.controlState() + "\n");
        for (String line : group.audit().entries()) {
            if (line.contains("\"event\":\"policy\"") || line.contains("\"event\":\"shadow\"")
                    || line.contains("\"event\":\"pass\"") || line.contains("\"event\":\"transition\"")
                    || line.contains("\"event\":\"publish-failed\"")) {
                hist.append(line).append('\n');
            }
        }
        out.add(put(dir, "policy-history.txt", hist.toString()));
        out.add(put(dir, "audit.jsonl", String.join("\n", group.audit().entries()) + "\n"));
        GroupMetrics m = group.newSampler().sample();
        out.add(put(dir, "metrics.txt", m.toTable()));
        out.add(put(dir, "metrics.prom", PrometheusExporter.of(group).scrape()));
        out.add(put(dir, "bpf-maps.txt", group.describeMaps()));
        group.audit().record("bundle", "dir", dir.toAbsolutePath().toString(), "files", out.size());
        return out;
    }

    private static Path put(Path dir, String name, String text) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, text, StandardCharsets.UTF_8);
        return p;
    }

    private static String read(String path) {
        try {
            // procfs files report a size that is not their length: read them by lines
            return String.join(" ", Files.readAllLines(Path.of(path))).trim().replace('\t', ' ');
        } catch (IOException e) {
            return "unreadable (" + e.getClass().getSimpleName() + ")";
        }
    }

    /** The steering maps as text: config and table of the half in force, per-slot counters, flow count. */
    static String maps(SteerProgram program, int slots) throws IOException {
        if (program == null) {
            return "no steering program attached\n";
        }
        StringBuilder b = new StringBuilder();
        b.append("program ").append(program.program().name()).append(" id ").append(program.program().info().id())
                .append(" tag ").append(program.program().info().tag()).append('\n');
        int[] cfg = program.config();
        b.append("config mode ").append(SteerProgram.Mode.values()[Math.min(cfg[0], 4)]).append(" table_len ")
                .append(cfg[1]).append(" shadow ").append(cfg[2]).append(" generation ").append(cfg[3]).append('\n');
        int[] table = program.table();
        int[] count = new int[SteerProgram.MAX_SLOTS];
        for (int s : table) {
            count[s]++;
        }
        b.append("table (").append(table.length).append(" entries), entries per slot:");
        for (int s = 0; s < SteerProgram.MAX_SLOTS; s++) {
            if (count[s] > 0) {
                b.append(' ').append(s).append('=').append(count[s]);
            }
        }
        b.append('\n');
        int show = Math.min(64, table.length);
        b.append("table head:");
        for (int i = 0; i < show; i++) {
            b.append(' ').append(table[i]);
        }
        b.append(table.length > show ? " ...\n" : "\n");
        b.append("slots (socket cookies):");
        for (int s = 0; s < slots; s++) {
            b.append(' ').append(s).append('=').append(program.slots().cookie(s));
        }
        b.append('\n');
        SteerProgram.SlotCounters[] c = program.counters(slots);
        b.append(String.format("%-5s %12s %12s %10s %10s%n", "slot", "selected", "shadow", "migrated", "fallback"));
        for (int s = 0; s < c.length; s++) {
            b.append(String.format("%-5d %12d %12d %10d %10d%n", s, c[s].selected(), c[s].shadow(), c[s].migrated(),
                    c[s].fallback()));
        }
        b.append("sticky flows remembered: ").append(program.flows().countKeys()).append('\n');
        return b.toString();
    }
}
