package dev.reuseport.examples;

import dev.reuseport.examples.bench.BenchCommand;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The examples JAR: {@code java -jar reuseport-examples.jar <command>}. */
@Command(name = "reuseport-examples", mixinStandardHelpOptions = true,
        description = "reuseport examples: echo servers (plain and Netty), load generator, benchmarks, operator CLI.",
        subcommands = {EchoCommand.class, NettyEchoCommand.class, GrpcEchoCommand.class, LoadCommand.class, BenchCommand.class,
            CtlCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Entry point; exits with the command's status. */
    public static void main(String[] args) {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs a command with the given output streams and returns its exit status (used by tests). */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Main());
        // everything after ctl's command word belongs to the server's command (ctl ... metrics --prom)
        cl.getSubcommands().get("ctl").setStopAtPositional(true);
        cl.setOut(out);
        cl.setErr(err);
        return cl.execute(args);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a command: echo, netty-echo, load, bench or ctl");
    }
}
