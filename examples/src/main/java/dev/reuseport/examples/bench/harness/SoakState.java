package dev.reuseport.examples.bench.harness;

import dev.reuseport.Controller;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import dev.reuseport.examples.bench.harness.ChangeTimeline.Change;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * What one {@code bench soak} run opens and counts: the two groups, their controllers, servers and load,
 * the changes applied, the cross-process hand-off churn, and the kernel's UDP drop figures; closed by
 * {@link #closeAll}. The scenario drives it, {@link SoakReport} prints it.
 */
public class SoakState {
    static final List<String> UDP_KEYS = List.of("Udp.InDatagrams", "Udp.InErrors", "Udp.RcvbufErrors",
            "Udp.NoPorts", "Udp.OutDatagrams", "Udp.SndbufErrors", "Udp.InCsumErrors", "Udp.MemErrors");
    static final List<String> TCP_KEYS = List.of("TcpExt.TCPMigrateReqSuccess", "TcpExt.TCPMigrateReqFailure",
            "TcpExt.ListenOverflows", "TcpExt.ListenDrops", "Tcp.AttemptFails", "Tcp.EstabResets", "Tcp.OutRsts");

    public ReuseportGroup tcp;
    public ReuseportGroup udp;
    public Controller tcpController;
    public Controller udpController;
    public CheckedTcpServer tcpServer;
    public SeqUdpServer udpServer;
    public PacedTcpLoad tcpLoad;
    public NumberedUdpLoad udpLoad;
    public final List<Change> changes = new ArrayList<>();
    public final List<String> notes = Collections.synchronizedList(new ArrayList<>());
    public long retiredSocketDrops;
    public long liveSocketDrops;
    public long udpInErrors0;
    public long udpInErrors1;
    public long settleMillis;
    public long start;
    public long changesEnd;

    /** The cross-process hand-off churn beside the groups, or null when it is off. */
    public HandoffChurn churn;
    /** The machine's floor for a woken thread, sampled beside the changes; null when it could not start. */
    public WakeSampler wakeSampler;
    /** What {@link #wakeSampler} saw, once stopped; null until then or when it could not say. */
    public WakeSampler.Report wake;

    /** Starts {@link #wakeSampler} at the control threads' scheduling (a failure is noted, the soak goes on). */
    public void startWakeSampler() {
        try {
            wakeSampler = WakeSampler.start(Math.min(99, HandoffChurn.REALTIME + 1));
        } catch (IOException | RuntimeException e) {
            notes.add("wake sampler: " + e.getMessage());
        }
    }

    /** Stops {@link #wakeSampler} and keeps its report in {@link #wake}. */
    public void stopWakeSampler() {
        if (wakeSampler == null) {
            return;
        }
        try {
            wake = wakeSampler.stop();
        } catch (IOException e) {
            notes.add("wake sampler: " + e.getMessage());
        }
    }

    public long dropsOf(List<Worker> ws) {
        long d = 0;
        for (Worker w : ws) {
            try {
                d += w.stats().drops();
            } catch (IOException e) {
                // the socket is gone already: its counter with it
            }
        }
        return d;
    }

    /** Closes load, workers, controllers and groups (each step bounded; every failure noted). */
    public void closeAll() {
        if (wakeSampler != null) {
            try {
                wakeSampler.close();
            } catch (IOException e) {
                notes.add("wake sampler: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (churn != null) {
            try {
                churn.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            notes.addAll(churn.notes);
        }
        if (udpLoad != null) {
            udpLoad.stop();
        }
        if (tcpLoad != null) {
            tcpLoad.stop();
        }
        if (tcpServer != null) {
            tcpServer.stop();
        }
        if (udpServer != null) {
            udpServer.stop();
        }
        for (Controller c : Arrays.asList(tcpController, udpController)) {
            if (c != null) {
                c.close();
            }
        }
        for (ReuseportGroup g : Arrays.asList(tcp, udp)) {
            if (g != null) {
                try {
                    g.close();
                } catch (IOException e) {
                    notes.add("closing " + g + ": " + e);
                }
            }
        }
        if (udpLoad != null) {
            udpLoad.closeChannels();
        }
    }

    /** A namespace UDP counter from /proc/net/snmp, 0 when absent. */
    public static long udpCounter(String key) {
        return KernelCounters.read().getOrDefault(key, 0L);
    }

    /** A group's address as text. */
    public static String address(ReuseportGroup g) {
        InetSocketAddress a = g.localAddress();
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }
}
