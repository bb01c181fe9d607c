package dev.reuseport.examples;

import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code load}: bounded TCP or UDP load against an echo server. */
@Command(name = "load", mixinStandardHelpOptions = true, exitCodeOnInvalidInput = CtlCommand.USAGE, description = "Bounded load against an echo server.")
final class LoadCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--address", defaultValue = "127.0.0.1", description = "server address (default ${DEFAULT-VALUE})")
    String address;

    @Option(names = "--port", required = true, description = "server port")
    int port;

    @Option(names = "--udp", description = "UDP flows instead of TCP connections")
    boolean udp;

    @Option(names = "--count", defaultValue = "10000", description = "connections or flows (default ${DEFAULT-VALUE})")
    int count;

    @Option(names = "--threads", defaultValue = "8", description = "client threads (default ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--seconds", defaultValue = "30", description = "time bound (default ${DEFAULT-VALUE})")
    double seconds;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (port < 1 || port > 65535) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--port " + port + " is out of range; accepted: 1..65535");
        }
        if (threads < 1 || threads > 4096) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--threads " + threads + " is out of range; accepted: 1..4096");
        }
        if (count < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--count " + count + " is out of range; accepted: 1 or more");
        }
        if (!(seconds > 0) || Double.isInfinite(seconds)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--seconds " + seconds + " is not accepted; accepted: a finite number of seconds above 0");
        }
        InetSocketAddress target = new InetSocketAddress(InetAddress.getByName(address), port);
        LoadGenerator.Result r = udp ? LoadGenerator.udp(target, count, 1, threads, 2000, seconds)
                : LoadGenerator.tcp(target, count, threads, 32, seconds);
        out.printf("%s %d attempted, %d completed, %d failed, %.1f s, %.0f/s%n", udp ? "udp" : "tcp", r.attempted(),
                r.completed(), r.failed(), r.seconds(), r.rate());
        return r.failed() == 0 ? 0 : 1;
    }
}
