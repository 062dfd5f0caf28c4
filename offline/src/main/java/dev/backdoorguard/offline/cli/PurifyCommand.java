package dev.backdoorguard.offline.cli;

import picocli.CommandLine.Command;

/** {@code guard purify <method>}: the defenses. */
@Command(
        name = "purify",
        mixinStandardHelpOptions = true,
        synopsisSubcommandLabel = "METHOD",  // also names the word in "unknown method 'x'" (ErrorHandler)
        description = "Purify a suspect model bundle with a published backdoor defense; the input is never modified.",
        subcommands = {ClpCommand.class, FstCommand.class, SeamCommand.class, DhbeCommand.class})
public final class PurifyCommand {}
