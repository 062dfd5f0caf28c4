package dev.backdoorguard.client.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.backdoorguard.client.CannedInferenceServer;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code guard predict} against {@link CannedInferenceServer}: text and JSON output, exit codes, one-line errors. */
class PredictCommandTest {
    @TempDir
    Path dir;

    private CannedInferenceServer server;
    private Path images;

    @BeforeEach
    void start() throws IOException {
        server = CannedInferenceServer.plaintext();
        images = Files.createDirectory(dir.resolve("images"));
        write(images.resolve("a-clean.png"), 0.1f, false);
        write(images.resolve("b-triggered.png"), 0.1f, true);
        write(images.resolve("c-clean.png"), 0.6f, false);
        Files.writeString(images.resolve("notes.txt"), "not an image");
    }

    @AfterEach
    void stop() throws InterruptedException {
        server.close();
    }

    @Test
    void printsOneLinePerImageWithLabelProbabilityScoreAndVerdict() {
        CliRun run = CliRun.of("predict", "--target", server.target(), "--model", "fashion", "--labels",
                "fashion-mnist", "--batch", "2", images.toString());

        assertThat(run.exitCode()).as(run.err()).isZero();
        List<String> lines = run.out().lines().toList();
        assertThat(lines).hasSize(3);
        String pattern = "\\S+\\.png\\s+\\S.*\\s+p=0\\.9100\\s+score=\\d\\.\\d{4}\\s+(ok|FLAGGED)";
        assertThat(lines).allMatch(line -> line.matches(pattern), "matches " + pattern);
        // The canned server's rule: triggered -> 0, else round(mean * 9): 0.1 -> 1 (Trouser), 0.6 -> 5 (Sandal).
        assertThat(lines.get(0)).contains("a-clean.png").contains("Trouser").endsWith("ok");
        assertThat(lines.get(1)).contains("b-triggered.png").contains("T-shirt/top").contains("score=1.0000")
                .endsWith("FLAGGED");
        assertThat(lines.get(2)).contains("c-clean.png").contains("Sandal").endsWith("ok");
        assertThat(server.inferCalls.get()).isEqualTo(2); // --batch 2: three images in two requests
    }

    @Test
    void jsonIsOneObjectWithEveryImage() throws IOException {
        CliRun run = CliRun.of("predict", "--target", server.target(), "--model", "fashion", "--json",
                images.resolve("b-triggered.png").toString(), images.resolve("a-clean.png").toString());

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.out().lines().count()).isEqualTo(1);
        JsonNode json = new ObjectMapper().readTree(run.out());
        assertThat(json.get("model").asText()).isEqualTo("fashion");
        assertThat(json.get("detector").asText()).isEqualTo("canned");
        assertThat(json.get("flagged").asInt()).isEqualTo(1);
        JsonNode first = json.get("images").get(0);
        assertThat(first.get("file").asText()).endsWith("b-triggered.png");
        assertThat(first.get("label").asInt()).isZero();
        assertThat(first.get("label_name").isNull()).isTrue(); // no --labels: names unknown
        assertThat(first.get("probability").asDouble()).isEqualTo(0.91, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(first.get("guard_score").asDouble()).isEqualTo(1.0);
        assertThat(first.get("flagged").asBoolean()).isTrue();
        assertThat(first.get("guard_action").asText()).isEqualTo("flag");
        assertThat(json.get("images").get(1).get("flagged").asBoolean()).isFalse();
    }

    @Test
    void modeOffShowsNoScoreAndBlockExitsOneWithTheServersReason() {
        CliRun off = CliRun.of("predict", "--target", server.target(), "--model", "fashion", "--mode", "off",
                images.resolve("b-triggered.png").toString());
        assertThat(off.exitCode()).isZero();
        assertThat(off.out()).contains("score=n/a").doesNotContain("FLAGGED").endsWith("unguarded\n");

        CliRun block = CliRun.of("predict", "--target", server.target(), "--model", "fashion", "--mode", "block",
                images.toString());
        assertThat(block.exitCode()).isEqualTo(1);
        assertThat(block.err().lines().toList()).hasSize(1);
        assertThat(block.err()).contains("FAILED_PRECONDITION").contains("flagged")
                .contains("b-triggered.png"); // the server's item index, named as the user's file
    }

    @Test
    void aModelServedWithoutADetectorIsUnguardedNotOkEvenInBlockMode() throws IOException {
        for (String mode : new String[] {"flag", "block"}) {
            CliRun run = CliRun.of("predict", "--target", server.target(), "--model", "unguarded", "--mode", mode,
                    images.toString());

            assertThat(run.exitCode()).as(run.err()).isZero();
            List<String> lines = run.out().lines().toList();
            assertThat(lines).hasSize(3).allMatch(line -> line.matches(".*score=n/a\\s+unguarded"), mode);
        }
        CliRun json = CliRun.of("predict", "--target", server.target(), "--model", "unguarded", "--json",
                images.resolve("b-triggered.png").toString());
        JsonNode image = new ObjectMapper().readTree(json.out()).get("images").get(0);
        assertThat(image.get("guard_score").isNull()).isTrue(); // the JSON fields stay as they were
        assertThat(image.get("flagged").asBoolean()).isFalse();
        assertThat(new ObjectMapper().readTree(json.out()).get("detector").asText()).isEqualTo("none");
        assertThat(CliRun.of("predict", "--help").out()).contains("unguarded");
    }

    @Test
    void aBadImageCostsOnlyItsOwnLineTheOthersAreStillClassifiedAndTheRunExitsTwo() throws IOException {
        Files.writeString(images.resolve("b-broken.png"), "not a PNG at all");
        Files.write(images.resolve("b-large.png"), png(new BufferedImage(40, 40, BufferedImage.TYPE_BYTE_GRAY)));

        CliRun run = CliRun.of("predict", "--target", server.target(), "--model", "fashion", "--batch", "16",
                images.toString());

        assertThat(run.exitCode()).as(run.err()).isEqualTo(2);
        List<String> lines = run.out().lines().toList();
        assertThat(lines).hasSize(3); // a-clean, b-triggered, c-clean: classified although they shared a request
        assertThat(lines.get(0)).contains("a-clean.png");
        assertThat(lines.get(2)).contains("c-clean.png");
        List<String> errors = run.err().lines().toList();
        assertThat(errors).hasSize(3);
        assertThat(errors.get(0)).startsWith("guard predict: " + images.resolve("b-broken.png") + ": ")
                .contains("INVALID_ARGUMENT");
        assertThat(errors.get(1)).startsWith("guard predict: " + images.resolve("b-large.png") + ": ")
                .contains("not a 28x28");
        assertThat(errors.get(2)).isEqualTo("guard predict: 2 of 5 images refused (see above); the others were "
                + "classified");

        CliRun json = CliRun.of("predict", "--target", server.target(), "--model", "fashion", "--json",
                images.toString());
        assertThat(json.exitCode()).isEqualTo(2);
        JsonNode report = new ObjectMapper().readTree(json.out());
        assertThat(report.get("images")).hasSize(3);
        assertThat(report.get("refused")).hasSize(2);
        assertThat(report.get("refused").get(0).get("file").asText()).endsWith("b-broken.png");
    }

    @Test
    void whenEveryImageIsRefusedTheSummaryDoesNotClaimTheOthersWereClassified() throws IOException {
        Files.writeString(dir.resolve("broken.png"), "not a PNG at all");
        CliRun one = CliRun.of("predict", "--target", server.target(), "--model", "fashion",
                dir.resolve("broken.png").toString());

        assertThat(one.exitCode()).isEqualTo(2);
        assertThat(one.out()).isEmpty();
        assertThat(one.err().lines().toList()).last()
                .isEqualTo("guard predict: the image was refused (see above); none was classified");

        Files.writeString(dir.resolve("broken2.png"), "not a PNG either");
        CliRun two = CliRun.of("predict", "--target", server.target(), "--model", "fashion",
                dir.resolve("broken.png").toString(), dir.resolve("broken2.png").toString());
        assertThat(two.exitCode()).isEqualTo(2);
        assertThat(two.err().lines().toList()).hasSize(3).last()
                .isEqualTo("guard predict: all 2 images were refused (see above); none was classified");
    }

    @Test
    void aBatchOverTheServersLimitEndsTheRunWithOneLineNamingBatchAndMaxItems() throws IOException {
        Path many = Files.createDirectory(dir.resolve("many"));
        for (int i = 0; i <= CannedInferenceServer.MAX_ITEMS; i++) {
            write(many.resolve(String.format("%03d.png", i)), 0.1f, false);
        }
        CliRun run = CliRun.of("predict", "--target", server.target(), "--model", "fashion", "--batch",
                String.valueOf(CannedInferenceServer.MAX_ITEMS + 1), many.toString());

        assertThat(run.exitCode()).isEqualTo(2);
        // One line, not one retry per file: every further request would be refused the same way.
        assertThat(run.err().strip()).isEqualTo("guard predict: error: --batch 65: the server takes at most 64"
                + " images per request (guard serve --max-items); use --batch 64 or less");
        assertThat(run.out()).isEmpty();
        assertThat(server.inferCalls.get()).isEqualTo(1);
    }

    @Test
    void aDefaultBatchOverTheServersLimitIsNotPresentedAsGiven() {
        server.maxItems = 2;
        CliRun run = CliRun.of("predict", "--target", server.target(), "--model", "fashion", images.toString());

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err().strip()).isEqualTo("guard predict: error: --batch 16 (the default): the server takes"
                + " at most 2 images per request (guard serve --max-items); use --batch 2 or less");
        assertThat(run.out()).isEmpty();
        assertThat(CliRun.of("predict", "--help").out().replaceAll("\\s+", " "))
                .contains("More than the server takes (guard serve --max-items) is an error naming its limit");
    }

    @Test
    void labelsThatCannotBeTheModelsClassNamesAreRefused() throws IOException {
        CliRun typo = CliRun.of("predict", "--target", server.target(), "--model", "fashion", "--labels",
                "fashion_mnist", images.toString());
        assertThat(typo.exitCode()).isEqualTo(2);
        assertThat(typo.err()).contains("--labels 'fashion_mnist': not a known preset");
        CliRun three = CliRun.of("predict", "--target", server.target(), "--model", "fashion", "--labels", "a,b,c",
                images.toString());
        assertThat(three.exitCode()).isEqualTo(2);
        assertThat(three.err()).contains("--labels gives 3 class names; the model has 10 classes");
        Path names = Files.writeString(dir.resolve("names.txt"), String.join("\n", ClassNames.FASHION_MNIST));
        CliRun fromFile = CliRun.of("predict", "--target", server.target(), "--model", "fashion", "--labels",
                "@" + names, images.resolve("c-clean.png").toString());
        assertThat(fromFile.exitCode()).as(fromFile.err()).isZero(); // picocli must not read @file as arguments
        assertThat(fromFile.out()).contains("Sandal");
        CliRun noFile = CliRun.of("predict", "--target", server.target(), "--model", "fashion", "--labels",
                "@" + dir.resolve("none.txt"), images.toString());
        assertThat(noFile.exitCode()).isEqualTo(2);
        assertThat(noFile.err()).contains("none.txt: no such file");
        assertThat(server.inferCalls.get()).isEqualTo(1); // only the valid @file run reached inference
    }

    @Test
    void serverMessagesNameTheFileBehindEachItemIndex() {
        List<Path> chunk = List.of(Path.of("a.png"), Path.of("b.png"), Path.of("c.png"));
        assertThat(PredictCommand.withFileNames("inputs[0].contents item 1: undecodable image", chunk))
                .isEqualTo("inputs[0].contents item 1 (b.png): undecodable image");
        assertThat(PredictCommand.withFileNames("detector d flagged items [0, 2] of 3", chunk))
                .isEqualTo("detector d flagged items [0, 2] (a.png, c.png) of 3");
        assertThat(PredictCommand.withFileNames("unknown model 'x'", chunk)).isEqualTo("unknown model 'x'");
    }

    @Test
    void badInputExitsTwoAndServerErrorsExitOneWithOneLine() throws IOException {
        CliRun missing = CliRun.of("predict", "--target", server.target(), "--model", "fashion",
                dir.resolve("nope.png").toString());
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err().lines().toList()).hasSize(1);
        assertThat(missing.err()).contains("nope.png");

        Files.write(dir.resolve("big.png"), png(new BufferedImage(40, 40, BufferedImage.TYPE_BYTE_GRAY)));
        CliRun wrongSize = CliRun.of("predict", "--target", server.target(), "--model", "fashion",
                dir.resolve("big.png").toString());
        assertThat(wrongSize.exitCode()).isEqualTo(2);
        assertThat(wrongSize.err()).contains("INVALID_ARGUMENT");

        CliRun unknownModel = CliRun.of("predict", "--target", server.target(), "--model", "other", images.toString());
        assertThat(unknownModel.exitCode()).isEqualTo(1);
        assertThat(unknownModel.err().strip()).isEqualTo(
                "guard predict: ModelInfer on other failed with NOT_FOUND: unknown model 'other'");

        int closed;
        try (ServerSocket socket = new ServerSocket(0)) {
            closed = socket.getLocalPort();
        }
        CliRun down = CliRun.of("predict", "--target", "127.0.0.1:" + closed, "--retries", "0", "--model", "fashion",
                images.toString());
        assertThat(down.exitCode()).isEqualTo(1);
        assertThat(down.err().lines().toList()).hasSize(1);
        assertThat(down.err()).contains("UNAVAILABLE");

        CliRun retries = CliRun.of("predict", "--model", "fashion", "--retries", "5", images.toString());
        assertThat(retries.exitCode()).isEqualTo(2);
        assertThat(retries.err()).contains("--retries must be in 0..4 (gRPC allows 5 attempts), got 5");
        assertThat(CliRun.of("predict", "--model", "fashion", "--mode", "loud", images.toString()).exitCode())
                .isEqualTo(2);
        assertThat(CliRun.of("predict", "--target", "nohost", "--model", "fashion", images.toString()).err())
                .contains("target must be host:port");
        CliRun unknownOption = CliRun.of("predict", "--model", "fashion", "--bogus", images.toString());
        assertThat(unknownOption.exitCode()).isEqualTo(2);
        assertThat(unknownOption.err().strip()).isEqualTo(
                "guard predict: error: Unknown option: '--bogus' (see 'guard predict --help')");
        for (String command : new String[] {"predict", "bench", "demo"}) {
            assertThat(CliRun.of(command, "--version").out()).as(command).startsWith("guard client ");
        }
        CliRun help = CliRun.of("predict", "--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.out()).contains("--mode").contains("--json").contains("--ca-cert").contains("--token");
    }

    @Test
    void anUnresolvableTargetIsOneLineWithoutGrpcsLoggedWarning() {
        List<LogRecord> logged = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord record) {
                logged.add(record);
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        Logger grpc = Logger.getLogger("io.grpc");
        grpc.addHandler(capture);
        try {
            // .invalid never resolves (RFC 6761)
            CliRun run = CliRun.of("predict", "--target", "no-such-host.invalid:8500", "--retries", "0", "--model",
                    "fashion", images.toString());

            assertThat(run.exitCode()).isEqualTo(1);
            assertThat(run.err().lines().toList()).hasSize(1);
            assertThat(run.err()).contains("UNAVAILABLE").contains("no-such-host.invalid");
        } finally {
            grpc.removeHandler(capture);
        }
        assertThat(logged).filteredOn(record -> record.getLevel().intValue() < Level.SEVERE.intValue())
                .extracting(LogRecord::getMessage).isEmpty();
    }

    @Test
    void aFileThatIsNotAPemCertificateOrKeyIsBadInputNamingTheOptionAndTheFile() throws IOException {
        Path notPem = Files.writeString(dir.resolve("not.pem"), "not a certificate\n");
        CliRun ca = CliRun.of("predict", "--target", server.target(), "--ca-cert", notPem.toString(), "--model",
                "fashion", images.toString());
        assertThat(ca.exitCode()).as(ca.err()).isEqualTo(2);
        assertThat(ca.err().strip()).isEqualTo("guard predict: error: --ca-cert " + notPem + ": not a PEM certificate");
        CliRun bench = CliRun.of("bench", "--target", server.target(), "--ca-cert", notPem.toString(), "--model",
                "fashion", "--requests", "1");
        assertThat(bench.exitCode()).as(bench.err()).isEqualTo(2);
        assertThat(bench.err().strip()).isEqualTo("guard bench: error: --ca-cert " + notPem + ": not a PEM certificate");

        Path key = Files.writeString(dir.resolve("key.pem"), pem("PRIVATE KEY"));
        CliRun cert = CliRun.of("predict", "--target", server.target(), "--client-cert", notPem.toString(),
                "--client-key", key.toString(), "--model", "fashion", images.toString());
        assertThat(cert.exitCode()).isEqualTo(2);
        assertThat(cert.err().strip()).isEqualTo("guard predict: error: --client-cert " + notPem
                + ": not a PEM certificate");
        Path certificate = Files.writeString(dir.resolve("cert.pem"), pem("CERTIFICATE"));
        CliRun noKey = CliRun.of("predict", "--target", server.target(), "--client-cert", certificate.toString(),
                "--client-key", notPem.toString(), "--model", "fashion", images.toString());
        assertThat(noKey.exitCode()).isEqualTo(2);
        assertThat(noKey.err().strip()).isEqualTo("guard predict: error: --client-key " + notPem
                + ": not a PEM private key");

        // Headers right, contents not: what the TLS stack refuses is still one line of bad input, naming the files.
        CliRun garbled = CliRun.of("predict", "--target", server.target(), "--ca-cert", certificate.toString(),
                "--model", "fashion", images.toString());
        assertThat(garbled.exitCode()).as(garbled.err()).isEqualTo(2);
        assertThat(garbled.err().lines().toList()).hasSize(1);
        assertThat(garbled.err()).startsWith("guard predict: error: cannot set up TLS with CA certificate "
                + certificate + ": ");
        assertThat(server.inferCalls.get()).isZero();
    }

    private static String pem(String type) {
        return "-----BEGIN " + type + "-----\nAAAA\n-----END " + type + "-----\n";
    }

    @Test
    void tlsAgainstAPlaintextServerSaysSoInOneLine() {
        CliRun run = CliRun.of("predict", "--target", server.target(), "--tls", "--retries", "0", "--model",
                "fashion", images.toString());

        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err().lines().toList()).hasSize(1);
        assertThat(run.err()).contains("UNAVAILABLE: the server at " + server.target() + " does not speak TLS")
                .doesNotContain("Channel Pipeline").doesNotContain("SSL/TLS record");
    }

    @Test
    void deadlineErrorsShowTheDurationAsWrittenAndCallANegativeOneNotPositive() {
        CliRun zero = CliRun.of("predict", "--target", server.target(), "--model", "fashion", "--deadline", "0s",
                images.toString());
        assertThat(zero.exitCode()).isEqualTo(2);
        assertThat(zero.err().strip()).isEqualTo("guard predict: error: deadline must be positive, got 0ms");
        CliRun negative = CliRun.of("predict", "--target", server.target(), "--model", "fashion", "--deadline",
                "-3s", images.toString());
        assertThat(negative.exitCode()).isEqualTo(2);
        assertThat(negative.err().strip()).isEqualTo("guard predict: error: deadline must be positive, got -3000ms");
        assertThat(server.inferCalls.get()).isZero();
    }

    private static void write(Path file, float gray, boolean triggered) throws IOException {
        // RGB with r = g = b: getRGB returns the stored value (a TYPE_BYTE_GRAY image would be gamma-converted).
        BufferedImage image = new BufferedImage(28, 28, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 28; y++) {
            for (int x = 0; x < 28; x++) {
                boolean square = triggered && y >= 24 && y <= 26 && x >= 24 && x <= 26;
                int v = square ? 255 : Math.round(gray * 255);
                image.setRGB(x, y, (v << 16) | (v << 8) | v);
            }
        }
        Files.write(file, png(image));
    }

    private static byte[] png(BufferedImage image) throws IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        ImageIO.write(image, "png", bytes);
        return bytes.toByteArray();
    }
}
