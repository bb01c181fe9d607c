package dev.reuseport.bpf;

/**
 * Child-JVM entry point for {@link ProbesTest}: prints each feature of {@link Probes#steering()} as
 * {@code FEATURE|name|STATE|detail}, one a line, so the parent can check what a process with other
 * properties or capabilities sees.
 */
public final class PrintSteeringFeatures {
    private PrintSteeringFeatures() {
    }

    public static void main(String[] args) {
        for (Feature f : Probes.steering()) {
            System.out.println("FEATURE|" + f.name() + "|" + f.state() + "|" + f.detail().replace('\n', ' '));
        }
        System.out.flush();
    }
}
