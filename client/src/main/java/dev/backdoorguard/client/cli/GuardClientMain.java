package dev.backdoorguard.client.cli;

import java.io.PrintWriter;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine;

/** {@code guard predict | bench | demo}: the client executable's composition root. */
@CommandLine.Command(
        name = "guard",
        mixinStandardHelpOptions = true,
        versionProvider = GuardClientMain.Version.class,
        description = "Backdoor Guard client: classify images, load-test and demo a guard server.",
        subcommands = {PredictCommand.class, BenchCommand.class, DemoCommand.class})
public final class GuardClientMain implements Runnable {
    /**
     * gRPC logs through java.util.logging, and warns with a stack trace about failures the commands already report
     * in one line (an unresolvable --target: "Failed to resolve name"). Held in a field: JUL keeps loggers weakly, so
     * a level set on an unreferenced logger can be lost to the garbage collector.
     */
    private static final Logger GRPC_LOGGING = Logger.getLogger("io.grpc");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs one command line with the given streams and returns its exit code (0 ok, 1 server, 2 bad input). */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        GRPC_LOGGING.setLevel(Level.SEVERE);
        CommandLine cli = new CommandLine(new GuardClientMain())
                .setExpandAtFiles(false)  // --labels @file is ours to read, not picocli's argument file
                .setOut(out)
                .setErr(err)
                .setExecutionExceptionHandler(new ClientErrors())
                .setParameterExceptionHandler(new ClientErrors())
                .setCaseInsensitiveEnumValuesAllowed(true);
        // picocli's --version on a subcommand prints nothing unless the subcommand has a provider
        cli.getSubcommands().values().forEach(sub -> sub.getCommandSpec().versionProvider(new Version()));
        cli.registerConverter(java.time.Duration.class, DurationConverter::parse);
        return cli.execute(args);
    }

    /** The version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = GuardClientMain.class.getPackage().getImplementationVersion();
            return new String[] {"guard client " + (version == null ? "(development build)" : version)};
        }
    }
}
