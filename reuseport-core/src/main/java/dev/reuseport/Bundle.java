package dev.reuseport;

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
            Files.createDirectory(dir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
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
        StringBuilder hist = new StringBuilder("policy now: " + group.policy().spec() + " table version "
                + group.tableVersion() + " state " + group.controllerState().shown() + "\n");
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
        // maps, audit trail and status name sockets and peers: this user's only, whatever the umask
        Files.createFile(p, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
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
}
