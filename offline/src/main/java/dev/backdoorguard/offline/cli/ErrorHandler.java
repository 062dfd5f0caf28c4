package dev.backdoorguard.offline.cli;

import dev.backdoorguard.offline.purify.PurificationFailedException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;

/**
 * Turns a failed command into one clear line on stderr and a non-zero exit code: 2 for bad input or
 * arguments, 1 for anything unexpected (with the stack trace, which is then a bug).
 */
public final class ErrorHandler implements CommandLine.IExecutionExceptionHandler,
        CommandLine.IParameterExceptionHandler {
    public static final int BAD_INPUT = 2;
    public static final int FAILURE = 1;

    @Override
    public int handleExecutionException(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
        String name = cli.getCommandSpec().qualifiedName();
        if (e instanceof FileAlreadyExistsException || e instanceof AccessDeniedException
                || e instanceof NoSuchFileException) {
            cli.getErr().println(name + ": error: " + describe(e));
            return BAD_INPUT;
        }
        if (e instanceof IllegalArgumentException || e instanceof IOException) {
            cli.getErr().println(name + ": error: " + e.getMessage());
            return BAD_INPUT;
        }
        if (e instanceof PurificationFailedException) {
            cli.getErr().println(name + ": failed: " + e.getMessage());
            return FAILURE;
        }
        cli.getErr().println(name + ": internal error: " + e);
        e.printStackTrace(cli.getErr());
        return FAILURE;
    }

    /** A bad command line (unknown or missing option, a value of the wrong type): one line, not the whole usage. */
    @Override
    public int handleParseException(CommandLine.ParameterException e, String[] args) {
        CommandLine cli = e.getCommandLine();
        String name = cli.getCommandSpec().qualifiedName();
        String unknown = unknownSubcommand(e);
        if (unknown != null) {
            // picocli says "Unmatched argument at index 1": name the word and list the choices instead.
            cli.getErr().println(name + ": error: unknown " + subcommandNoun(cli) + " '" + unknown + "' ("
                    + String.join(", ", cli.getSubcommands().keySet()) + ")");
            return BAD_INPUT;
        }
        cli.getErr().println(name + ": error: " + e.getMessage() + " (see '" + name + " --help')");
        CommandLine.UnmatchedArgumentException.printSuggestions(e, cli.getErr()); // "Did you mean ...", if any
        return BAD_INPUT;
    }

    /** The word given where a command with subcommands expects one of them, or null for any other error. */
    private static String unknownSubcommand(CommandLine.ParameterException e) {
        if (!(e instanceof CommandLine.UnmatchedArgumentException unmatched)
                || e.getCommandLine().getSubcommands().isEmpty() || unmatched.getUnmatched().isEmpty()) {
            return null;
        }
        String first = unmatched.getUnmatched().get(0);
        return first.startsWith("-") ? null : first;
    }

    /** What a command's subcommands are, from its synopsis label: "METHOD" gives "method", "[COMMAND]" "command". */
    private static String subcommandNoun(CommandLine cli) {
        return cli.getCommandSpec().usageMessage().synopsisSubcommandLabel().replaceAll("[\\[\\]]", "")
                .toLowerCase(java.util.Locale.ROOT);
    }

    private static String describe(Exception e) {
        if (e instanceof NoSuchFileException) {
            return e.getMessage() + ": no such file or directory";
        }
        if (e instanceof AccessDeniedException) {
            return e.getMessage() + ": permission denied";
        }
        return e.getMessage();
    }
}
