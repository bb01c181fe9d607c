package dev.reuseport.examples;

import dev.reuseport.ControlClient;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code ctl}: the operator CLI: one request to a server's control socket, its reply printed. */
@Command(name = "ctl", mixinStandardHelpOptions = true,
        description = {"Send one command to a reuseport server's control socket and print the reply.",
            "Commands: status | metrics [--prom] | state [OBSERVE|SHADOW|ENFORCE|FALLBACK [reason]] | policy <spec> |",
            "  fallback [reason] | audit [n] | bundle <new dir> | restart | resize <n>",
            "Policy specs: kernel-hash, round-robin, consistent, sticky, cpu, weighted:W0,W1,..."},
        footer = "Exit status: 0 OK, 1 the server refused the command (the reply says why), 2 unreachable.")
final class CtlCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--socket", required = true, description = "the server's control socket path")
    Path socket;

    @Parameters(arity = "1..*", description = "the command and its arguments")
    List<String> command;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (ControlClient c = ControlClient.connect(socket)) {
            ControlClient.Reply r = c.request(String.join(" ", command));
            r.body().forEach(out::println);
            if (r.ok()) {
                out.println(r.text().isEmpty() ? "OK" : r.text());
                return 0;
            }
            err.println("error: " + r.text());
            return 1;
        } catch (java.io.IOException e) {
            err.println("error: cannot reach " + socket + ": " + e.getMessage());
            return 2;
        }
    }
}
