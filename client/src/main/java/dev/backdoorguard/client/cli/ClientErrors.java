package dev.backdoorguard.client.cli;

import dev.backdoorguard.client.GuardClientException;
import io.grpc.Status;
import java.io.IOException;
import java.io.UncheckedIOException;
import picocli.CommandLine;

/**
 * Turns a failed command into one line on stderr and an exit code: 2 for bad input (arguments, files, a request the
 * server called INVALID_ARGUMENT), 1 for the server or the connection (unreachable, refused, blocked, timed out).
 */
final class ClientErrors implements CommandLine.IExecutionExceptionHandler, CommandLine.IParameterExceptionHandler {
    static final int SERVER_ERROR = 1;
    static final int BAD_INPUT = 2;

    @Override
    public int handleExecutionException(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
        String name = cli.getCommandSpec().qualifiedName();
        if (e instanceof GuardClientException failure) {
            cli.getErr().println(name + ": " + failure.getMessage());
            return failure.code() == Status.Code.INVALID_ARGUMENT ? BAD_INPUT : SERVER_ERROR;
        }
        if (e instanceof IllegalArgumentException || e instanceof IOException || e instanceof UncheckedIOException) {
            cli.getErr().println(name + ": error: " + e.getMessage());
            return BAD_INPUT;
        }
        if (e instanceof ServerProcessException) {
            cli.getErr().println(name + ": " + e.getMessage());
            return SERVER_ERROR;
        }
        cli.getErr().println(name + ": internal error: " + e);
        e.printStackTrace(cli.getErr());
        return SERVER_ERROR;
    }

    /** A bad command line (unknown or missing option, a value of the wrong type): one line, not the whole usage. */
    @Override
    public int handleParseException(CommandLine.ParameterException e, String[] args) {
        CommandLine cli = e.getCommandLine();
        String name = cli.getCommandSpec().qualifiedName();
        cli.getErr().println(name + ": error: " + e.getMessage() + " (see '" + name + " --help')");
        CommandLine.UnmatchedArgumentException.printSuggestions(e, cli.getErr()); // "Did you mean ...", if any
        return BAD_INPUT;
    }
}
