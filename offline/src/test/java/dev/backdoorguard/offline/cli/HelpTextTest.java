package dev.backdoorguard.offline.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backdoorguard.offline.GuardOffline;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every offline command's --help renders cleanly: picocli treats descriptions as format strings, so a
 * bare "%" (as in "2% clean data") makes it print a warning to stderr and show the raw text.
 */
class HelpTextTest {

    @Test
    void everyCommandsUsageRendersWithoutAPicocliWarning() {
        List<CommandLine> commands = new ArrayList<>();
        collect(GuardOffline.commandLine(), commands);
        assertThat(commands).hasSizeGreaterThan(5);
        PrintStream stderr = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            for (CommandLine c : commands) {
                String usage = c.getUsageMessage(CommandLine.Help.Ansi.OFF);
                assertThat(usage).as(c.getCommandName()).contains("Usage: ");
            }
        } finally {
            System.setErr(stderr);
        }
        assertThat(captured.toString(StandardCharsets.UTF_8)).doesNotContain("WARN");
    }

    private static void collect(CommandLine c, List<CommandLine> out) {
        out.add(c);
        c.getSubcommands().values().forEach(s -> collect(s, out));
    }
}
