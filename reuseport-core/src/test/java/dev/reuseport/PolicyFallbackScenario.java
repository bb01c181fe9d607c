package dev.reuseport;

/**
 * Child-process entry point: opens a TCP group of 4 with the policy named in {@code args[0]}, prints
 * the steering decision and the state of each feature, then serves 40 connections to show the group
 * works whatever steers it.
 */
public final class PolicyFallbackScenario {
    private PolicyFallbackScenario() {
    }

    public static void main(String[] args) throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(4).policy(Policy.parse(args[0]))
                .open(); TestTraffic t = new TestTraffic(g)) {
            System.out.println("steering=" + g.capabilities().steering());
            System.out.println("reason=" + g.capabilities().steeringReason());
            g.capabilities().features().forEach(f -> System.out.println("feature " + f));
            long[] c = t.connect(40);
            long served = 0;
            for (long n : c) {
                served += n;
            }
            System.out.println("served=" + served);
        }
    }
}
