package dev.reuseport.examples.bench;

import dev.reuseport.examples.bench.scenarios.BenchAccept;
import dev.reuseport.examples.bench.scenarios.BenchBalance;
import dev.reuseport.examples.bench.scenarios.BenchControl;
import dev.reuseport.examples.bench.scenarios.BenchFrameworks;
import dev.reuseport.examples.bench.scenarios.BenchRollout;
import dev.reuseport.examples.bench.scenarios.BenchIngest;
import dev.reuseport.examples.bench.scenarios.BenchNetty;
import dev.reuseport.examples.bench.scenarios.BenchQuic;
import dev.reuseport.examples.bench.scenarios.BenchRestart;
import dev.reuseport.examples.bench.scenarios.BenchServe;
import dev.reuseport.examples.bench.scenarios.BenchSoak;
import dev.reuseport.examples.bench.scenarios.BenchSystemd;
import picocli.CommandLine.Command;

/** {@code bench}: the benchmark programs. Each prints a table and, last, one {@code RESULT} line. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks; each ends with a RESULT line.",
        subcommands = {BenchAccept.class, BenchAccept.Server.class, BenchBalance.class, BenchRestart.class,
            BenchControl.class, BenchSoak.class, BenchNetty.class, BenchNetty.Server.class, BenchIngest.class,
            BenchServe.class, BenchFrameworks.class, BenchRollout.class, BenchRollout.Run.class,
            BenchRollout.Host.class, BenchRollout.Coord.class, BenchSystemd.class, BenchQuic.class})
public final class BenchCommand {
}
