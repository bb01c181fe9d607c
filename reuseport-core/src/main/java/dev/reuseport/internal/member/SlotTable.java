package dev.reuseport.internal.member;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * Live members by slot id (null: free slot). The array is replaced, never mutated, so readers need no
 * lock; writers are the group's serialised membership changes.
 *
 * @param <M> the member type
 */
public final class SlotTable<M> {
    private volatile M[] bySlot;

    /**
     * An empty table.
     *
     * @param slots    how many slots
     * @param newArray makes the array
     */
    public SlotTable(int slots, IntFunction<M[]> newArray) {
        this.bySlot = newArray.apply(slots);
    }

    /**
     * The member in {@code slot}.
     *
     * @param slot the slot id
     * @return the member, or null when out of range or free
     */
    public M get(int slot) {
        M[] ms = bySlot;
        return slot < 0 || slot >= ms.length ? null : ms[slot];
    }

    /**
     * The live members in ascending slot order.
     *
     * @return a new list
     */
    public List<M> live() {
        List<M> out = new ArrayList<>();
        for (M m : bySlot) {
            if (m != null) {
                out.add(m);
            }
        }
        return out;
    }

    /**
     * The live slot ids, ascending.
     *
     * @return a new array
     */
    public int[] slots() {
        M[] ms = bySlot;
        return java.util.stream.IntStream.range(0, ms.length).filter(i -> ms[i] != null).toArray();
    }

    /**
     * The highest live slot.
     *
     * @return the slot id, or -1 when none is live
     */
    public int highest() {
        M[] ms = bySlot;
        for (int i = ms.length - 1; i >= 0; i--) {
            if (ms[i] != null) {
                return i;
            }
        }
        return -1;
    }

    /**
     * The lowest free slot.
     *
     * @return the slot id, or -1 when every slot is taken
     */
    public int lowestFree() {
        M[] ms = bySlot;
        for (int i = from; i < Math.min(to, ms.length); i++) {
            if (ms[i] == null) {
                return i;
            }
        }
        return -1;
    }

    /** The range {@link #lowestFree} searches: a socket generation's slots (all by default). */
    private volatile int from;
    private volatile int to = Integer.MAX_VALUE;

    /**
     * Confines new members to slots {@code from .. to-1} (a socket generation's range: the slots beside it
     * belong to other processes' generations).
     *
     * @param from the first slot
     * @param to   one past the last slot
     */
    public void confine(int from, int to) {
        this.from = from;
        this.to = to;
    }

    /**
     * Puts {@code m} into {@code slot} (null frees it), replacing the array.
     *
     * @param slot the slot id
     * @param m    the member, or null
     */
    public void set(int slot, M m) {
        M[] next = bySlot.clone();
        next[slot] = m;
        bySlot = next;
    }
}
