package dev.reuseport.bpf;

import java.util.Objects;

/**
 * The outcome of one capability probe: a feature is ON (the kernel accepted the real thing), OFF (it
 * refused, with the errno or missing file that says why), or INCONCLUSIVE (the probe could not tell,
 * e.g. EPERM without CAP_BPF; never reported as "kernel too old").
 *
 * @param name          the feature, e.g. {@code sk_reuseport program}
 * @param state         ON, OFF or INCONCLUSIVE
 * @param detail        what was found (a version, the errno, the missing file)
 * @param minimumKernel the first kernel release with the feature, for the operator's orientation only
 */
public record Feature(String name, State state, String detail, String minimumKernel) {

    /** The three outcomes of a probe. */
    public enum State {
        /** The kernel accepted it. */
        ON,
        /** The kernel or the system refused it, conclusively. */
        OFF,
        /** The probe could not tell (no privilege, a transient error); not cached. */
        INCONCLUSIVE
    }

    /** Checks the fields. */
    public Feature {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(detail, "detail");
        Objects.requireNonNull(minimumKernel, "minimumKernel");
    }

    /**
     * A feature the kernel accepted.
     *
     * @param name          the feature, one of the {@link Probes} names
     * @param detail        what was found, e.g. {@code libbpf 1.1 from libbpf.so.1}
     * @param minimumKernel the first kernel release with the feature, or {@code -}
     * @return the ON outcome
     */
    public static Feature on(String name, String detail, String minimumKernel) {
        return new Feature(name, State.ON, detail, minimumKernel);
    }

    /**
     * A feature the kernel or the system refused, conclusively.
     *
     * @param name          the feature, one of the {@link Probes} names
     * @param detail        why: the errno, the missing file or the prerequisite that is off
     * @param minimumKernel the first kernel release with the feature, or {@code -}
     * @return the OFF outcome
     */
    public static Feature off(String name, String detail, String minimumKernel) {
        return new Feature(name, State.OFF, detail, minimumKernel);
    }

    /**
     * A probe that could not decide, e.g. EPERM without CAP_BPF; such an outcome is never cached.
     *
     * @param name          the feature, one of the {@link Probes} names
     * @param detail        what stopped the probe
     * @param minimumKernel the first kernel release with the feature, or {@code -}
     * @return the INCONCLUSIVE outcome
     */
    public static Feature inconclusive(String name, String detail, String minimumKernel) {
        return new Feature(name, State.INCONCLUSIVE, detail, minimumKernel);
    }

    /**
     * Whether the feature is on.
     *
     * @return true for {@link State#ON}; false for OFF and INCONCLUSIVE
     */
    public boolean isOn() {
        return state == State.ON;
    }

    @Override
    public String toString() {
        return name + ": " + state + " (" + detail + ")";
    }
}
