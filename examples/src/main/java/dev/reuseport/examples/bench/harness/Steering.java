package dev.reuseport.examples.bench.harness;

import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerStats;
import dev.reuseport.bpf.SteerProgram;
import java.io.IOException;
import java.util.List;

/** What steers a group's traffic, as the reports show it: whether a policy is in force, the program's counters. */
public final class Steering {
    private Steering() {
    }

    /** Whether {@code p} really steers {@code g}: the kernel hash always; another policy only with the program on. */
    public static boolean inForce(ReuseportGroup g, Policy p) {
        return p instanceof Policy.KernelHash || g.capabilities().steering().startsWith("bpf");
    }

    /** The program's counters summed over the slots ({@code selected N fallback M}), {@code -} without a program. */
    public static String counters(ReuseportGroup g) {
        try {
            List<SteerProgram.SlotCounters> cs = g.steeringCounters();
            if (cs.isEmpty()) {
                return "-";
            }
            long sel = cs.stream().mapToLong(SteerProgram.SlotCounters::selected).sum();
            long fb = cs.stream().mapToLong(SteerProgram.SlotCounters::fallback).sum();
            return "selected " + sel + " fallback " + fb;
        } catch (IOException e) {
            return "unreadable: " + e.getMessage();
        }
    }

    /** The kernel's drops (full receive buffers) summed over the group's live sockets. */
    public static long drops(ReuseportGroup g) throws IOException {
        long d = 0;
        for (WorkerStats s : g.stats()) {
            d += s.drops();
        }
        return d;
    }
}
