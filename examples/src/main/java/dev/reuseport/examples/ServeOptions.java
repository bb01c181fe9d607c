package dev.reuseport.examples;

import dev.reuseport.ControlSocket;
import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The options the echo servers share ({@code netty-echo}, {@code grpc-echo}): where the group listens, its
 * policy, {@code --serve} and the cross-process hand-off ({@code --control}, {@code --take-over}), with
 * their checks, the group they open and the control socket they serve. A picocli mixin; {@code --workers}
 * stays with each command (their defaults differ).
 */
final class ServeOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--port", defaultValue = "0", description = "port; 0 picks a free one (default ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--address", defaultValue = "127.0.0.1", description = "address to bind (default ${DEFAULT-VALUE})")
    String address;

    @Option(names = "--policy", defaultValue = "kernel-hash", description = "steering policy: kernel-hash, "
            + "round-robin, consistent, sticky, cpu, weighted:W0,W1,... (default ${DEFAULT-VALUE})")
    String policy;

    @Option(names = "--serve", description = "keep serving until interrupted (or handed off) instead of the demo")
    boolean serve;

    @Option(names = "--control", description = "with --serve: serve the operator socket at this path (ctl status, "
            + "resize, restart, policy, handoff ...)")
    Path control;

    @Option(names = "--take-over", description = "with --serve: take the group over from the process serving this "
            + "control socket (its sockets, program and maps), then serve the control socket there")
    Path takeOver;

    /**
     * Checks the shared options and returns the group's builder.
     *
     * @param workers the command's --workers
     * @return a TCP builder with address, port, workers and policy
     * @throws ParameterException a bad policy, or --control / --take-over without --serve
     */
    ReuseportGroup.Builder builder(int workers) {
        Policy pol;
        try {
            pol = Policy.parse(policy);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--policy: " + e.getMessage());
        }
        if ((control != null || takeOver != null) && !serve) {
            throw new ParameterException(spec.commandLine(), "--control and --take-over need --serve");
        }
        return ReuseportGroup.tcp().address(address).port(port).workers(workers).policy(pol);
    }

    /**
     * Opens the group: taken over from {@code --take-over}'s process (falling back to {@code b}), or anew.
     *
     * @param b the builder from {@link #builder}
     * @return the open group
     * @throws IOException it could not be opened
     */
    ReuseportGroup open(ReuseportGroup.Builder b) throws IOException {
        return takeOver != null ? ReuseportGroup.takeOver(takeOver, b) : b.open();
    }

    /**
     * The control socket's path: {@code --control}, or {@code --take-over}'s (served here after the
     * take-over).
     *
     * @return the path, or null for none
     */
    Path controlPath() {
        return control != null ? control : takeOver;
    }

    /**
     * Serves the control socket at {@link #controlPath()} (replacing the old process's after a take-over).
     *
     * @param g the group
     * @return the serving control socket
     * @throws ParameterException the path is not accepted
     * @throws IOException the socket could not be created
     */
    ControlSocket serveControl(ReuseportGroup g) throws IOException {
        try {
            return ControlSocket.serve(g, controlPath(), takeOver != null);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new ParameterException(spec.commandLine(), "--control: " + e.getMessage());
        }
    }
}
