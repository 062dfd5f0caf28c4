package dev.backdoorguard.offline.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.bundle.JsonOutput;
import dev.backdoorguard.core.eval.AttackMetrics;
import java.time.Instant;

/** report.json building blocks and the human/JSON output of figures. */
final class Reports {
    static final ObjectMapper JSON = JsonOutput.INDENTED; // NaN is written as null

    private Reports() {}

    /** The fields every report starts with. */
    static ObjectNode header(String command, long seed) {
        ObjectNode r = JSON.createObjectNode();
        r.put("tool", "backdoor-guard");
        r.put("tool_version", VersionProvider.version());
        r.put("command", command);
        r.put("created", Instant.now().toString());
        r.put("seed", seed);
        return r;
    }

    static ObjectNode metrics(AttackMetrics m) {
        ObjectNode n = JSON.createObjectNode();
        n.put("acc", m.acc());
        n.put("clean_correct", m.cleanCorrect());
        n.put("clean_total", m.cleanTotal());
        if (m.hasAttack()) {
            n.put("asr", m.asr());
            n.put("ra", m.ra());
            n.put("attack_hits", m.attackHits());
            n.put("attack_recovered", m.attackRecovered());
            n.put("attack_total", m.attackTotal());
            // DHBE's definition (specs/dhbe-seam.md §A.7), an extra; null when no non-target image was classified
            // correctly
            n.put("asr_conditional", m.asrConditional());
        }
        return n;
    }

    /** A small aligned table: ACC, ASR, RA as percentages with their counts. */
    static void printMetrics(java.io.PrintWriter out, String title, AttackMetrics m) {
        out.println(title);
        out.printf("  %-4s %7.2f%%  (%d/%d clean test images correct)%n", "ACC", 100 * m.acc(), m.cleanCorrect(),
                m.cleanTotal());
        if (m.hasAttack()) {
            out.printf("  %-4s %7.2f%%  (%d/%d triggered non-target images -> target)%n", "ASR", 100 * m.asr(),
                    m.attackHits(), m.attackTotal());
            out.printf("  %-4s %7.2f%%  (%d/%d triggered images still correct)%n", "RA", 100 * m.ra(),
                    m.attackRecovered(), m.attackTotal());
        }
    }
}
