package dev.reuseport.internal.gen;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Plans a new socket generation beside the live ones: the next generation number after the newest
 * (wrapping 255 to 0, skipping numbers still live) and the lowest free range of slots wide enough for
 * its workers. Pure arithmetic over an immutable view; the caller writes the result into the program's
 * {@code gens} map (and a generation's number is reusable only once it is retired, because its cookies
 * then count as "gone" rather than naming another generation's socket).
 */
public final class GenerationPlanner {
    /** Generation numbers the program knows: 0..255. */
    public static final int NUMBERS = 256;
    /** Slots of the program's socket array. */
    public static final int SLOTS = 256;
    /** Generations that must be able to live at once (the old ones draining, the working one). */
    public static final int MIN_LIVE = 4;

    /**
     * A live generation.
     *
     * @param number its number, 0..255
     * @param base   its first slot
     * @param count  its slots
     */
    public record Live(int number, int base, int count) {
        /**
         * Checks the ranges.
         *
         * @throws IllegalArgumentException when a value is outside the program's ranges
         */
        public Live {
            if (number < 0 || number >= NUMBERS) {
                throw new IllegalArgumentException("generation " + number + "; accepted: 0.." + (NUMBERS - 1));
            }
            if (base < 0 || count < 1 || base + count > SLOTS) {
                throw new IllegalArgumentException("generation " + number + " over " + count + " slots from " + base
                        + "; accepted: 1.." + SLOTS + " slots within 0.." + (SLOTS - 1));
            }
        }

        boolean overlaps(int b, int c) {
            return b < base + count && base < b + c;
        }
    }

    private GenerationPlanner() {
    }

    /**
     * The largest generation that still lets {@link #MIN_LIVE} of its size live at once.
     *
     * @return {@value #SLOTS} / {@value #MIN_LIVE} slots
     */
    public static int maxWorkers() {
        return SLOTS / MIN_LIVE;
    }

    /**
     * The number and slot range of a new generation of {@code workers} sockets.
     *
     * @param live    the live generations, the newest (the working one) last; may be empty
     * @param workers the new generation's sockets, 1..{@link #maxWorkers()}
     * @return the new generation
     * @throws IllegalArgumentException when {@code workers} is out of range, naming what is accepted
     * @throws IllegalStateException when no free range of that width is left (too many generations still
     *                               live: retire a drained one first)
     */
    public static Live next(List<Live> live, int workers) {
        if (workers < 1 || workers > maxWorkers()) {
            throw new IllegalArgumentException("a generation of " + workers + " workers; accepted: 1.." + maxWorkers()
                    + " (so that " + MIN_LIVE + " generations fit in " + SLOTS + " slots)");
        }
        boolean[] used = new boolean[NUMBERS];
        for (Live g : live) {
            used[g.number()] = true;
        }
        int start = live.isEmpty() ? 0 : live.get(live.size() - 1).number() + 1;
        int number = -1;
        for (int i = 0; i < NUMBERS; i++) {
            int n = (start + i) % NUMBERS;
            if (!used[n]) {
                number = n;
                break;
            }
        }
        List<Live> byBase = new ArrayList<>(live);
        byBase.sort(Comparator.comparingInt(Live::base));
        int base = 0;
        for (Live g : byBase) {
            if (g.overlaps(base, workers)) {
                base = g.base() + g.count();
            }
        }
        if (number < 0 || base + workers > SLOTS) {
            throw new IllegalStateException("no room for a generation of " + workers + " workers beside " + live.size()
                    + " live generations " + live + "; retire a drained generation first");
        }
        return new Live(number, base, workers);
    }
}
