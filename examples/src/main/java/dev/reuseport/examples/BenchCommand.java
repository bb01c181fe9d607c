package dev.reuseport.examples;

import picocli.CommandLine.Command;

/** {@code bench}: the benchmark programs. Each prints a table and, last, one {@code RESULT} line. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks; each ends with a RESULT line.",
        subcommands = {BenchAccept.class, BenchAccept.Server.class, BenchBalance.class, BenchRestart.class,
            BenchControl.class, BenchSoak.class, BenchNetty.class, BenchNetty.Server.class, BenchIngest.class,
            BenchServe.class})
final class BenchCommand {
}
