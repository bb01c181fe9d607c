package dev.reuseport.examples;

import dev.reuseport.ControlClient;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code ctl}: the operator CLI: one request to a server's control socket, its reply printed (as text or
 * as one JSON object), or {@code top}, a live per-worker view. Exit status: 0 OK, 1 refused, 2 unreachable,
 * 64 usage.
 */
@Command(name = "ctl", mixinStandardHelpOptions = true, versionProvider = CtlCommand.Version.class,
        exitCodeOnInvalidInput = CtlCommand.USAGE,
        description = {"Send one command to a reuseport server's control socket and print the reply.",
            "Commands: status | health | metrics [--prom] | state [OBSERVE|SHADOW|ENFORCE|FALLBACK [reason]] |",
            "  policy <spec> | fallback [reason] | audit [n] | bundle <new dir> | restart | resize <n> |",
            "  top [--interval SECONDS] [--count N]  (live per-worker view; q then Enter, or Ctrl-C, quits)",
            "Fleet (etcd, --etcd URLS --service NAME): rollout start|drive|status|abort, fleet status|fallback|release",
            "Policy specs: kernel-hash, round-robin, consistent, sticky, cpu, weighted:W0,W1,..."},
        footer = {"Exit status: 0 OK, 1 the server refused the command (the reply says why), 2 the socket is",
            "unreachable, 64 usage error. The socket defaults to $REUSEPORT_CTL_SOCKET."})
final class CtlCommand implements Callable<Integer> {
    /** Exit status of a usage error (sysexits EX_USAGE). */
    static final int USAGE = 64;
    /** Exit status when the server refused the command. */
    static final int REFUSED = 1;
    /** Exit status when the control socket cannot be reached. */
    static final int UNREACHABLE = 2;
    /** The environment variable naming the default socket. */
    static final String SOCKET_ENV = "REUSEPORT_CTL_SOCKET";

    @Spec
    CommandSpec spec;

    @Option(names = "--socket", description = "the server's control socket path (default: $" + SOCKET_ENV + ")")
    Path socket;

    @Option(names = {"-o", "--output"}, defaultValue = "text", description = "text or json (default ${DEFAULT-VALUE})")
    String output;

    @Parameters(arity = "1..*", description = "the command and its arguments")
    List<String> command;

    /** The environment, replaceable by tests. */
    static java.util.function.Function<String, String> env = System::getenv;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        int n = command.size();
        if (n >= 3 && (command.get(n - 2).equals("-o") || command.get(n - 2).equals("--output"))) {
            output = command.get(n - 1); // ctl status -o json: the option after the command words
            command = command.subList(0, n - 2);
        }
        boolean json;
        switch (output.toLowerCase(Locale.ROOT)) {
            case "text" -> json = false;
            case "json" -> json = true;
            default -> throw new CommandLine.ParameterException(spec.commandLine(), "-o " + output
                    + " is not an output format; accepted: text, json");
        }
        if (FleetCtl.handles(command)) { // rollout ... and fleet ...: etcd, not a control socket
            return FleetCtl.run(command, out, err, env);
        }
        Path at = socket;
        if (at == null) {
            String e = env.apply(SOCKET_ENV);
            if (e == null || e.isBlank()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "no control socket: give --socket PATH "
                        + "or set " + SOCKET_ENV);
            }
            at = Path.of(e);
        }
        if (command.get(0).equals("top")) {
            if (json) {
                throw new CommandLine.ParameterException(spec.commandLine(), "-o json does not apply to top; "
                        + "accepted: -o json with any other command, e.g. metrics --prom");
            }
            return new CtlTop(spec.commandLine(), at, command.subList(1, command.size())).run();
        }
        String line = String.join(" ", command);
        try (ControlClient c = ControlClient.connect(at)) {
            ControlClient.Reply r = c.request(line);
            if (json) {
                out.println(json(line, at, r.ok(), false, r.text(), r.body()));
                return r.ok() ? 0 : REFUSED;
            }
            r.body().forEach(out::println);
            if (r.ok()) {
                if (!line.equals("metrics --prom")) { // the exposition alone, so that it pipes into promtool
                    out.println(r.text().isEmpty() ? "OK" : r.text());
                }
                return 0;
            }
            err.println("error: " + r.text());
            return REFUSED;
        } catch (java.io.IOException e) {
            if (json) {
                out.println(json(line, at, false, true, "cannot reach " + at + ": " + e.getMessage(), List.of()));
            } else {
                err.println("error: cannot reach " + at + ": " + e.getMessage());
            }
            return UNREACHABLE;
        }
    }

    /** {@code {"command":..,"socket":..,"ok":..,"unreachable":..,"text"|"error":..,"body":[..]}} on one line. */
    static String json(String command, Path socket, boolean ok, boolean unreachable, String text, List<String> body) {
        StringBuilder b = new StringBuilder("{\"command\":").append(quote(command)).append(",\"socket\":")
                .append(quote(socket.toString())).append(",\"ok\":").append(ok).append(",\"unreachable\":")
                .append(unreachable).append(ok ? ",\"text\":" : ",\"error\":").append(quote(text)).append(",\"body\":[");
        for (int i = 0; i < body.size(); i++) {
            b.append(i == 0 ? "" : ",").append(quote(body.get(i)));
        }
        return b.append("]}").toString();
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    /** The version of the reuseport JARs, from the Maven properties the build puts in them. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws Exception {
            String v = null;
            try (java.io.InputStream in = CtlCommand.class.getResourceAsStream(
                    "/META-INF/maven/dev.reuseport/reuseport-core/pom.properties")) {
                if (in != null) {
                    java.util.Properties p = new java.util.Properties();
                    p.load(in);
                    v = p.getProperty("version");
                }
            }
            return new String[] {"reuseport ctl " + (v == null ? "(version unknown: not run from the built JAR)" : v),
                "Java " + Runtime.version() + " " + System.getProperty("java.vm.name")};
        }
    }
}
