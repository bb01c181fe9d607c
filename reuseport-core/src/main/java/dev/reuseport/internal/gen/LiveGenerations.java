package dev.reuseport.internal.gen;

import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.sys.NativeException;
import java.util.ArrayList;
import java.util.List;

/**
 * The socket generations a steering program holds LIVE, read from its {@code gens} map, for
 * {@link GenerationPlanner#next}: the working generation last. A generation whose slots are all empty
 * (its process exited or died without retiring it) is retired on the way, so that its number and slots
 * can be planned again and its cookies count as "gone".
 */
public final class LiveGenerations {
    private LiveGenerations() {
    }

    /**
     * What was read.
     *
     * @param live    the live generations, the working one last (when it is live)
     * @param retired the numbers retired here because their sockets were gone
     */
    public record Read(List<GenerationPlanner.Live> live, List<Integer> retired) {
        /**
         * The numbers of the live generations other than {@code working}.
         *
         * @param working the working generation
         * @return their numbers
         */
        public int[] others(int working) {
            return live.stream().mapToInt(GenerationPlanner.Live::number).filter(n -> n != working).toArray();
        }
    }

    /**
     * Reads every generation of {@code program}, retiring live ones (but the working one) whose sockets are
     * all gone.
     *
     * @param program a program with the dissectors
     * @return the live generations, the working one last, and those retired
     * @throws NativeException when a lookup or update fails
     */
    public static Read readRetiringDead(SteerProgram program) throws NativeException {
        int working = program.workingGeneration();
        List<GenerationPlanner.Live> live = new ArrayList<>();
        List<Integer> retired = new ArrayList<>();
        GenerationPlanner.Live workingLive = null;
        for (int n = 0; n < SteerProgram.MAX_GENERATIONS; n++) {
            SteerProgram.Generation g = program.generation(n);
            if (g.state() != SteerProgram.GenerationState.LIVE) {
                continue;
            }
            int count = Math.max(1, Math.min(g.count(), SteerProgram.MAX_SLOTS - g.base()));
            GenerationPlanner.Live l = new GenerationPlanner.Live(n, g.base(), count);
            if (n == working) {
                workingLive = l;
            } else if (empty(program, l)) {
                program.retireGeneration(n);
                retired.add(n);
            } else {
                live.add(l);
            }
        }
        if (workingLive != null) {
            live.add(workingLive);
        }
        return new Read(live, retired);
    }

    /**
     * The numbers of the generations {@code program} holds LIVE, in number order; nothing is changed.
     *
     * @param program a program with the dissectors (none: an empty list)
     * @return the live numbers
     * @throws NativeException when a lookup fails
     */
    public static List<Integer> numbers(SteerProgram program) throws NativeException {
        List<Integer> live = new ArrayList<>();
        for (int n = 0; program.dissects() && n < SteerProgram.MAX_GENERATIONS; n++) {
            if (program.generation(n).state() == SteerProgram.GenerationState.LIVE) {
                live.add(n);
            }
        }
        return live;
    }

    private static boolean empty(SteerProgram program, GenerationPlanner.Live l) throws NativeException {
        for (int slot = l.base(); slot < l.base() + l.count(); slot++) {
            if (program.slots().cookie(slot) != 0) {
                return false;
            }
        }
        return true;
    }
}
