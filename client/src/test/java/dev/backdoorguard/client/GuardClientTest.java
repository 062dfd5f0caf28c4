package dev.backdoorguard.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.grpc.Status;
import io.grpc.TlsServerCredentials;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client library against {@link CannedInferenceServer} on a loopback port: every call and every error type. */
class GuardClientTest {
    private static final List<String> NAMES =
            List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot");

    private CannedInferenceServer server;
    private GuardClient client;

    @BeforeEach
    void start() throws IOException {
        server = CannedInferenceServer.plaintext();
        client = GuardClient.connect(ClientConfig.plaintext(server.target()));
    }

    @AfterEach
    void stop() throws InterruptedException {
        client.close();
        server.close();
    }

    @Test
    void healthLivenessAndMetadata() {
        assertThat(client.health("")).isEqualTo(HealthStatus.SERVING);
        server.setServing(false);
        assertThat(client.health("")).isEqualTo(HealthStatus.NOT_SERVING);
        assertThat(client.serverLive()).isTrue();
        assertThat(client.serverReady()).isTrue();
        assertThat(client.modelReady("fashion")).isTrue();
        assertThat(client.serverMetadata().extensions()).containsExactly("guard");
        ModelInfo model = client.modelMetadata("fashion");
        assertThat(model.imageShape()).hasValueSatisfying(shape -> assertThat(shape).containsExactly(1, 28, 28));
        assertThat(model.numClasses()).contains(10);
        assertThat(model.platform()).isEqualTo("pytorch_safetensors");
    }

    @Test
    void healthOfAnUnknownServiceIsNotFound() {
        assertThatThrownBy(() -> client.health("no.such.Service"))
                .isInstanceOf(GuardClientException.class)
                .satisfies(e -> assertThat(((GuardClientException) e).code()).isEqualTo(Status.Code.NOT_FOUND));
    }

    @Test
    void predictsPixelsWithScoresFlagsAndNames() {
        InputBatch batch = InputBatch.pixels(Fixtures.concat(Fixtures.image(0.5f, false), Fixtures.image(0.5f, true)),
                2, 1, 28, 28);
        Prediction prediction = client.predict(PredictRequest.of("fashion", batch).withLabels(NAMES));

        assertThat(prediction.items()).hasSize(2);
        ItemResult clean = prediction.items().get(0);
        ItemResult triggered = prediction.items().get(1);
        assertThat(clean.label()).isEqualTo(CannedInferenceServer.cannedLabel(Fixtures.image(0.5f, false)));
        assertThat(clean.labelName()).isEqualTo(NAMES.get(clean.label()));
        assertThat(clean.probability()).isCloseTo(0.91, within(1e-6));
        assertThat(clean.probabilities()).hasSize(10);
        assertThat(clean.flagged()).isFalse();
        assertThat(clean.guardScore()).isCloseTo(0.0, within(1e-6));
        assertThat(triggered.label()).isZero();
        assertThat(triggered.labelName()).isEqualTo("T-shirt/top");
        assertThat(triggered.flagged()).isTrue();
        assertThat(triggered.guardScore()).isCloseTo(1.0, within(1e-6));
        assertThat(prediction.suspicious()).isTrue();
        assertThat(prediction.action()).isEqualTo("flag");
        assertThat(prediction.detector()).isEqualTo("canned");
        assertThat(prediction.flaggedCount()).isEqualTo(1);
    }

    @Test
    void readsOutputsSentAsTypedContentsTheSameAsRaw() {
        InputBatch batch = InputBatch.pixels(Fixtures.concat(Fixtures.image(0.2f, false), Fixtures.image(0.9f, true)),
                2, 1, 28, 28);
        Prediction raw = client.predict("fashion", batch);
        server.rawOutputs = false;
        Prediction typed = client.predict("fashion", batch);
        for (int i = 0; i < 2; i++) {
            assertThat(typed.items().get(i).label()).isEqualTo(raw.items().get(i).label());
            assertThat(typed.items().get(i).flagged()).isEqualTo(raw.items().get(i).flagged());
            assertThat(typed.items().get(i).probabilities()).containsExactly(raw.items().get(i).probabilities());
        }
    }

    @Test
    void predictsUint8FilesAndBufferedImages(@TempDir Path dir) throws IOException {
        float[] triggered = Fixtures.image(0.3f, true);
        byte[] uint8 = new byte[28 * 28];
        for (int p = 0; p < uint8.length; p++) {
            uint8[p] = (byte) Math.round(triggered[p] * 255);
        }
        assertThat(client.predict("fashion", InputBatch.uint8(uint8, 1, 1, 28, 28)).items().get(0).flagged()).isTrue();

        Path png = dir.resolve("trigger.png");
        ImageIO.write(Fixtures.gray(triggered), "png", png.toFile());
        Path plain = dir.resolve("plain.png");
        ImageIO.write(Fixtures.gray(Fixtures.image(0.3f, false)), "png", plain.toFile());
        Prediction files = client.predict("fashion", InputBatch.files(List.of(plain, png)));
        assertThat(files.items()).extracting(ItemResult::flagged).containsExactly(false, true);

        Prediction images = client.predict("fashion",
                InputBatch.images(List.of(Fixtures.gray(triggered), Fixtures.gray(Fixtures.image(0.3f, false))), 1));
        assertThat(images.items()).extracting(ItemResult::flagged).containsExactly(true, false);
    }

    @Test
    void modeOffSendsNoScoresAndBlockThrowsInputBlocked() {
        InputBatch triggered = InputBatch.pixels(Fixtures.image(0.5f, true), 1, 1, 28, 28);
        Prediction off = client.predict(PredictRequest.of("fashion", triggered).withMode(GuardMode.OFF));
        assertThat(off.items().get(0).flagged()).isFalse();
        assertThat(off.items().get(0).score()).isEmpty();
        assertThat(off.action()).isEqualTo("pass");

        assertThatThrownBy(() -> client.predict(PredictRequest.of("fashion", triggered).withMode(GuardMode.BLOCK)))
                .isInstanceOf(InputBlockedException.class)
                .hasMessageContaining("FAILED_PRECONDITION")
                .hasMessageContaining("items [0] flagged");

        InputBatch clean = InputBatch.pixels(Fixtures.image(0.5f, false), 1, 1, 28, 28);
        assertThat(client.predict(PredictRequest.of("fashion", clean).withMode(GuardMode.BLOCK)).suspicious())
                .isFalse();
    }

    @Test
    void mapsServerErrorsToClearExceptions(@TempDir Path dir) throws IOException {
        InputBatch one = InputBatch.pixels(Fixtures.image(0.5f, false), 1, 1, 28, 28);
        assertThatThrownBy(() -> client.predict("nope", one))
                .isInstanceOf(GuardClientException.class)
                .hasMessageContaining("ModelInfer on nope failed with NOT_FOUND: unknown model 'nope'")
                .satisfies(e -> assertThat(((GuardClientException) e).code()).isEqualTo(Status.Code.NOT_FOUND));

        ByteArrayOutputStream big = new ByteArrayOutputStream();
        ImageIO.write(new java.awt.image.BufferedImage(32, 32, java.awt.image.BufferedImage.TYPE_BYTE_GRAY), "png", big);
        assertThatThrownBy(() -> client.predict("fashion", InputBatch.encoded(List.of(big.toByteArray()))))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("contents item 0");
    }

    @Test
    void retriesUnavailableWithinTheAttemptBudgetOnly() throws InterruptedException {
        InputBatch one = InputBatch.pixels(Fixtures.image(0.5f, false), 1, 1, 28, 28);
        server.flakyFailures = 2;
        assertThat(client.predict("flaky", one).items()).hasSize(1);
        assertThat(server.flakyCalls.get()).isEqualTo(3);

        server.flakyCalls.set(0);
        try (GuardClient twoAttempts = GuardClient.connect(ClientConfig.plaintext(server.target()).withMaxAttempts(2))) {
            assertThatThrownBy(() -> twoAttempts.predict("flaky", one))
                    .isInstanceOf(ServerUnavailableException.class)
                    .hasMessageContaining("model flaky is loading");
        }
        assertThat(server.flakyCalls.get()).isEqualTo(2);

        // A non-retryable code is tried once.
        int before = server.inferCalls.get();
        assertThatThrownBy(() -> client.predict("nope", one)).isInstanceOf(GuardClientException.class);
        assertThat(server.inferCalls.get() - before).isEqualTo(1);
    }

    @Test
    void refusedConnectionIsUnavailableAndSlowServerHitsTheDeadline() throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        try (GuardClient nobody = GuardClient.connect(ClientConfig.plaintext("127.0.0.1:" + closedPort)
                .withMaxAttempts(1).withDeadline(Duration.ofSeconds(5)))) {
            assertThatThrownBy(nobody::serverLive).isInstanceOf(ServerUnavailableException.class);
        }

        server.delayMillis = 2_000;
        try (GuardClient impatient = GuardClient.connect(ClientConfig.plaintext(server.target())
                .withDeadline(Duration.ofMillis(200)))) {
            long start = System.nanoTime();
            assertThatThrownBy(() -> impatient.predict("fashion",
                            InputBatch.pixels(Fixtures.image(0.5f, false), 1, 1, 28, 28)))
                    .isInstanceOf(GuardClientException.class)
                    .satisfies(e -> assertThat(((GuardClientException) e).code())
                            .isEqualTo(Status.Code.DEADLINE_EXCEEDED));
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(1_500);
        }
    }

    @Test
    void asyncPredictCompletesAndFailsWithMappedExceptions() throws Exception {
        InputBatch triggered = InputBatch.pixels(Fixtures.image(0.5f, true), 1, 1, 28, 28);
        assertThat(client.predictAsync(PredictRequest.of("fashion", triggered)).get(5, TimeUnit.SECONDS)
                .items().get(0).flagged()).isTrue();
        assertThatThrownBy(() -> client.predictAsync(PredictRequest.of("fashion", triggered).withMode(GuardMode.BLOCK))
                        .get(5, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(InputBlockedException.class);
    }

    @Test
    void bearerTokenAndMutualTls(@TempDir Path dir) throws Exception {
        List<Path> serverPair = Fixtures.selfSigned(dir, "server");
        List<Path> clientPair = Fixtures.selfSigned(dir, "client");
        TlsServerCredentials.Builder tls = TlsServerCredentials.newBuilder()
                .keyManager(serverPair.get(0).toFile(), serverPair.get(1).toFile())
                .trustManager(clientPair.get(0).toFile())
                .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
        try (CannedInferenceServer secure = CannedInferenceServer.with(tls.build(), "s3cret")) {
            ClientConfig base = ClientConfig.plaintext(secure.target()).withMaxAttempts(1)
                    .withDeadline(Duration.ofSeconds(10)).withTls(serverPair.get(0));
            try (GuardClient full = GuardClient.connect(
                    base.withClientCertificate(clientPair.get(0), clientPair.get(1)).withBearerToken("s3cret"))) {
                assertThat(full.serverLive()).isTrue();
            }
            try (GuardClient noToken = GuardClient.connect(
                    base.withClientCertificate(clientPair.get(0), clientPair.get(1)))) {
                assertThatThrownBy(noToken::serverLive)
                        .isInstanceOf(GuardClientException.class)
                        .satisfies(e -> assertThat(((GuardClientException) e).code())
                                .isEqualTo(Status.Code.UNAUTHENTICATED));
            }
            try (GuardClient noClientCert = GuardClient.connect(base.withBearerToken("s3cret"))) {
                assertThatThrownBy(noClientCert::serverLive).isInstanceOf(GuardClientException.class);
            }
            try (GuardClient plain = GuardClient.connect(ClientConfig.plaintext(secure.target()).withMaxAttempts(1)
                    .withDeadline(Duration.ofSeconds(5)))) {
                assertThatThrownBy(plain::serverLive).isInstanceOf(GuardClientException.class);
            }
        }
    }

    @Test
    void configIsValidatedOnConstruction(@TempDir Path dir) throws IOException {
        assertThatThrownBy(() -> ClientConfig.plaintext("localhost"))
                .hasMessageContaining("target must be host:port");
        assertThatThrownBy(() -> ClientConfig.plaintext("localhost:99999")).hasMessageContaining("out of range");
        assertThatThrownBy(() -> ClientConfig.plaintext("h:1").withMaxAttempts(6)).hasMessageContaining("1..5");
        assertThatThrownBy(() -> ClientConfig.plaintext("h:1").withDeadline(Duration.ZERO))
                .hasMessageContaining("positive");
        assertThatThrownBy(() -> ClientConfig.plaintext("h:1").withTls(dir.resolve("missing.pem")))
                .hasMessageContaining("CA certificate is not a readable file");
        Path cert = Files.writeString(dir.resolve("c.pem"), "x");
        assertThatThrownBy(() -> new ClientConfig("h:1", true, null, cert, null, null, Duration.ofSeconds(1), 1))
                .hasMessageContaining("both a client certificate and its key");
        assertThatThrownBy(() -> ClientConfig.plaintext("h:1").withBearerToken("a b"))
                .hasMessageContaining("bearer token");
        assertThat(ClientConfig.plaintext("[::1]:8500").target()).isEqualTo("[::1]:8500");
        assertThatThrownBy(() -> InputBatch.pixels(new float[] {2f}, 1, 1, 1, 1)).hasMessageContaining("[0,1]");
        assertThatThrownBy(() -> InputBatch.pixels(new float[3], 1, 1, 2, 2)).hasMessageContaining("needs 4 values");
        assertThatThrownBy(() -> GuardMode.parse("loud")).hasMessageContaining("off, flag or block");
    }
}
