package dev.reuseport;

import dev.reuseport.bpf.Feature;
import java.util.List;
import java.util.Optional;

/**
 * What this host and JVM give a group, decided by probing (never by version numbers): the kernel
 * release, the native backend in use and why, each feature ON / OFF / INCONCLUSIVE with its reason, and
 * how the group steers as a result. Immutable.
 *
 * @param kernelRelease uname release
 * @param backend       {@code ffm} or {@code jnr}
 * @param backendReason why that backend was chosen
 * @param features      every probed feature, in probe order
 * @param steering      what selects a worker for new traffic: {@code kernel hash} or {@code bpf <policy>}
 * @param steeringReason why: the feature that was off, or the policy asked for
 */
public record Capabilities(String kernelRelease, String backend, String backendReason, List<Feature> features,
                           String steering, String steeringReason) {

    /** Copies the feature list, so that the report stays immutable. */
    public Capabilities {
        features = List.copyOf(features);
    }

    /**
     * One feature of the report.
     *
     * @param name a feature name, one of the {@code dev.reuseport.bpf.Probes} constants, e.g.
     *             {@code Probes.MIGRATE}
     * @return the feature's outcome, or empty when it was not probed
     */
    public Optional<Feature> feature(String name) {
        return features.stream().filter(f -> f.name().equals(name)).findFirst();
    }

    /**
     * Whether a feature is on.
     *
     * @param name a feature name, one of the {@code dev.reuseport.bpf.Probes} constants
     * @return true when the feature was probed and is ON; false when OFF, INCONCLUSIVE or not probed
     */
    public boolean isOn(String name) {
        return feature(name).map(Feature::isOn).orElse(false);
    }

    /** The same report with one more probed feature (or the named one replaced). */
    Capabilities withFeature(Feature f) {
        List<Feature> next = new java.util.ArrayList<>(features);
        next.removeIf(x -> x.name().equals(f.name()));
        next.add(f);
        return new Capabilities(kernelRelease, backend, backendReason, next, steering, steeringReason);
    }

    /** The same report with another steering decision. */
    Capabilities withSteering(String steering, String reason) {
        return new Capabilities(kernelRelease, backend, backendReason, features, steering, reason);
    }

    /**
     * The report as an aligned text table, as the demo and the operator CLI print it: kernel, backend and
     * steering lines with their reasons, then one line per feature with its state, detail and minimum
     * kernel.
     *
     * @return the table, one line per row
     */
    public String toTable() {
        StringBuilder b = new StringBuilder();
        b.append(String.format("kernel   %s%n", kernelRelease));
        b.append(String.format("backend  %s (%s)%n", backend, backendReason));
        b.append(String.format("steering %s (%s)%n", steering, steeringReason));
        int w = features.stream().mapToInt(f -> f.name().length()).max().orElse(8);
        for (Feature f : features) {
            b.append(String.format("  %-" + w + "s  %-12s %s [since %s]%n", f.name(), f.state(), f.detail(),
                    f.minimumKernel()));
        }
        return b.toString();
    }
}
