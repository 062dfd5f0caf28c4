package dev.backdoorguard.offline;

import dev.backdoorguard.offline.cli.AttackCommand;
import dev.backdoorguard.offline.cli.CalibrateCommand;
import dev.backdoorguard.offline.cli.ErrorHandler;
import dev.backdoorguard.offline.cli.EvaluateCommand;
import dev.backdoorguard.offline.cli.PurifyCommand;
import dev.backdoorguard.offline.cli.VersionProvider;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The offline tool's composition root: {@code guard attack | evaluate | purify | calibrate}. */
@Command(
        name = "guard",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Backdoor Guard offline tool: simulate attacks, evaluate, purify and calibrate models.",
        subcommands = {AttackCommand.class, EvaluateCommand.class, PurifyCommand.class, CalibrateCommand.class,
            CommandLine.HelpCommand.class})
public final class GuardOffline {
    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line; tests call {@code execute} on it directly. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new GuardOffline());
        cli.setExpandAtFiles(false);  // '@x' is an argument (a directory, a path), never a file of more arguments
        ErrorHandler errors = new ErrorHandler();
        cli.setExecutionExceptionHandler(errors);
        cli.setParameterExceptionHandler(errors);
        shareVersion(cli, new VersionProvider());
        return cli;
    }

    /** Every subcommand's --version (picocli's standard option) prints the tool's version, not nothing. */
    private static void shareVersion(CommandLine cli, CommandLine.IVersionProvider version) {
        for (CommandLine sub : cli.getSubcommands().values()) {
            sub.getCommandSpec().versionProvider(version);
            shareVersion(sub, version);
        }
    }
}
