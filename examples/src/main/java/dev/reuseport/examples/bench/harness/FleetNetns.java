package dev.reuseport.examples.bench.harness;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A fleet's network on one machine: a bridge in a hub namespace, and one namespace per node on a veth pair
 * to that bridge, with addresses from 198.18.0.0/15 (reserved for benchmarking). {@link #close()} deletes
 * every namespace it made.
 */
public final class FleetNetns implements AutoCloseable {
    private final String prefix;
    private final List<String> made = new ArrayList<>();

    /**
     * A network whose namespaces are named {@code <prefix>-<node>}; nothing is made until {@link #create}.
     *
     * @param prefix unique on this machine (e.g. with the pid)
     */
    public FleetNetns(String prefix) {
        this.prefix = prefix;
    }

    /**
     * A node's address: {@code e0..e2} the etcd members, {@code ctl} the orchestrator, {@code h<i>} hosts.
     *
     * @param node the node's name
     * @return its IPv4 address in 198.18.0.0/15
     */
    public static String addr(String node) {
        return switch (node) {
            case "e0" -> "198.18.0.1";
            case "e1" -> "198.18.0.2";
            case "e2" -> "198.18.0.3";
            case "ctl" -> "198.18.0.100";
            default -> "198.18.1." + (10 + Integer.parseInt(node.substring(1)));
        };
    }

    /**
     * Makes the hub with its bridge, then each node's namespace, veth pair and address.
     *
     * @param nodes the nodes' names
     * @throws IOException when an {@code ip} command fails (what was made is deleted by {@link #close()})
     * @throws InterruptedException when interrupted
     */
    public void create(List<String> nodes) throws IOException, InterruptedException {
        String hub = ns("hub");
        sh("ip", "netns", "add", hub);
        made.add(hub);
        sh("ip", "-n", hub, "link", "set", "lo", "up");
        sh("ip", "-n", hub, "link", "add", "br0", "type", "bridge");
        sh("ip", "-n", hub, "link", "set", "br0", "up");
        for (String n : nodes) {
            String ns = ns(n);
            sh("ip", "netns", "add", ns);
            made.add(ns);
            sh("ip", "-n", hub, "link", "add", "v" + n, "type", "veth", "peer", "name", "eth0", "netns", ns);
            sh("ip", "-n", hub, "link", "set", "v" + n, "master", "br0", "up");
            sh("ip", "-n", ns, "addr", "add", addr(n) + "/16", "dev", "eth0");
            sh("ip", "-n", ns, "link", "set", "eth0", "up");
            sh("ip", "-n", ns, "link", "set", "lo", "up");
        }
    }

    /**
     * A node's namespace.
     *
     * @param node the node
     * @return {@code <prefix>-<node>}
     */
    public String ns(String node) {
        return prefix + "-" + node;
    }

    /**
     * The command prefix that runs a command in a node's namespace.
     *
     * @param node the node
     * @return {@code ip netns exec <ns>}
     */
    public List<String> exec(String node) {
        return List.of("ip", "netns", "exec", ns(node));
    }

    /**
     * Sets a node's link to the bridge up or down (down: the node is partitioned from everyone).
     *
     * @param node the node
     * @param up   true for up
     * @throws IOException when {@code ip} fails
     * @throws InterruptedException when interrupted
     */
    public void link(String node, boolean up) throws IOException, InterruptedException {
        sh("ip", "-n", ns("hub"), "link", "set", "v" + node, up ? "up" : "down");
    }

    /**
     * Runs a command and waits for it.
     *
     * @param cmd the command
     * @throws IOException when it exits non-zero, with its output
     * @throws InterruptedException when interrupted
     */
    public static void sh(String... cmd) throws IOException, InterruptedException {
        Process pr = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String o = new String(pr.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (pr.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + ": " + o.trim());
        }
    }

    /**
     * This process's real uid.
     *
     * @return the uid, or {@code ?}
     * @throws IOException when {@code /proc/self/status} cannot be read
     */
    public static String uid() throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("Uid:")) {
                return l.split("\\s+")[1];
            }
        }
        return "?";
    }

    /** Deletes every namespace made, the last first. */
    @Override
    public void close() throws IOException, InterruptedException {
        for (int i = made.size() - 1; i >= 0; i--) {
            new ProcessBuilder("ip", "netns", "del", made.get(i)).redirectErrorStream(true).start().waitFor();
        }
        made.clear();
    }
}
