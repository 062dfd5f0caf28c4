package dev.backdoorguard.client.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.backdoorguard.client.ClientConfig;
import dev.backdoorguard.client.GuardClient;
import dev.backdoorguard.client.GuardClientException;
import dev.backdoorguard.client.GuardMode;
import dev.backdoorguard.client.HealthStatus;
import dev.backdoorguard.client.InputBatch;
import dev.backdoorguard.client.InvalidRequestException;
import dev.backdoorguard.client.ItemResult;
import dev.backdoorguard.client.ModelInfo;
import dev.backdoorguard.client.PredictRequest;
import dev.backdoorguard.client.Prediction;
import dev.backdoorguard.client.load.IdxImages;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.model.Classifier;
import io.grpc.Status;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client, predict, bench and demo against the real server: {@code ServerMain} (what {@code guard serve} runs) as
 * a child process on free loopback ports, serving a tiny seeded random-init cnn-small bundle for Fashion-MNIST's
 * 1x28x28 inputs as model {@code fashion-mnist}. The server has no detector yet, so guard scores are absent.
 */
class RealServerTest {
    private static final ModelSpec SPEC = new ModelSpec("cnn-small", new int[] {1, 28, 28}, 10,
            new float[] {0.286f}, new float[] {0.353f}, ClassNames.FASHION_MNIST, null, null);

    @TempDir
    static Path dir;

    private static Path repository;
    private static ServerProcess server;
    private static String target;
    private static GuardClient client;
    private static IdxImages test;

    static String serverCommand() {
        return Path.of(System.getProperty("java.home"), "bin", "java") + " -Dai.djl.offline=true"
                + " -Djava.awt.headless=true -cp " + System.getProperty("java.class.path")
                + " dev.backdoorguard.server.ServerMain --workers 1 --torch-threads 1";
    }

    @BeforeAll
    static void startServer() throws Exception {
        repository = dir.resolve("models");
        Path bundle = Files.createDirectories(repository.resolve("fashion-mnist").resolve("1"));
        Files.delete(bundle); // Bundles.write creates it atomically
        try (Classifier classifier = Classifier.create(SPEC, Architectures.standard(), 3)) {
            Bundles.write(bundle, false, SPEC, classifier.stateDict(), null);
        }
        int port = ServerProcess.freePort();
        List<String> command = new ArrayList<>(List.of(serverCommand().split(" ")));
        command.addAll(List.of("--model-repository", repository.toString(), "--port", Integer.toString(port),
                "--metrics-port", Integer.toString(ServerProcess.freePort())));
        server = ServerProcess.start(command, dir.resolve("server.log"));
        target = "127.0.0.1:" + port;
        ClientConfig config = ClientConfig.plaintext(target).withDeadline(Duration.ofSeconds(60));
        server.awaitServing(config, port, Duration.ofMinutes(3));
        client = GuardClient.connect(config);
        test = IdxImages.testSet(Path.of("/usr/share/datasets/fashion-mnist"));
    }

    @AfterAll
    static void stopServer() throws InterruptedException {
        if (client != null) {
            client.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void healthAndMetadata() {
        assertThat(client.health("")).isEqualTo(HealthStatus.SERVING);
        assertThat(client.serverLive()).isTrue();
        assertThat(client.serverReady()).isTrue();
        assertThat(client.modelReady("fashion-mnist")).isTrue();
        assertThat(client.serverMetadata().extensions()).contains("guard");
        ModelInfo info = client.modelMetadata("fashion-mnist");
        assertThat(info.imageShape()).hasValueSatisfying(shape -> assertThat(shape).containsExactly(1, 28, 28));
        assertThat(info.numClasses()).contains(10);
        assertThat(info.inputs()).extracting(t -> t.name()).containsExactly("input");
    }

    @Test
    void everyInputFormGivesTheSameAnswer() throws IOException {
        int n = 3;
        float[] pixels = new float[n * 784];
        byte[] uint8 = new byte[n * 784];
        List<BufferedImage> images = new ArrayList<>();
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            System.arraycopy(test.image(i), 0, pixels, i * 784, 784);
            System.arraycopy(test.pixels(), i * 784, uint8, i * 784, 784);
            BufferedImage image = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
            image.getRaster().setPixels(0, 0, 28, 28, toInts(test.pixels(), i * 784));
            images.add(image);
            Path file = dir.resolve("img" + i + ".png");
            ImageIO.write(image, "png", file.toFile());
            files.add(file);
        }
        Prediction fp32 = client.predict(PredictRequest.of("fashion-mnist", InputBatch.pixels(pixels, n, 1, 28, 28))
                .withLabels(ClassNames.FASHION_MNIST));
        Prediction bytes = client.predict("fashion-mnist", InputBatch.uint8(uint8, n, 1, 28, 28));
        Prediction png = client.predict("fashion-mnist", InputBatch.files(files));
        Prediction buffered = client.predict("fashion-mnist", InputBatch.images(images, 1));

        for (Prediction other : List.of(bytes, png, buffered)) {
            for (int i = 0; i < n; i++) {
                assertThat(other.items().get(i).label()).isEqualTo(fp32.items().get(i).label());
                assertThat(other.items().get(i).probabilities())
                        .containsExactly(fp32.items().get(i).probabilities(), within(1e-4f));
            }
        }
        for (ItemResult item : fp32.items()) {
            double sum = 0;
            for (float p : item.probabilities()) {
                sum += p;
            }
            assertThat(sum).isCloseTo(1.0, within(1e-4));
            assertThat(item.labelName()).isEqualTo(ClassNames.FASHION_MNIST.get(item.label()));
            assertThat(item.flagged()).isFalse();
        }
        assertThat(fp32.model()).isEqualTo("fashion-mnist");
        assertThat(fp32.action()).isNotEmpty();
        assertThat(fp32.detector()).isNotEmpty();
    }

    @Test
    void serverErrorsArriveAsClearExceptions() {
        assertThatThrownBy(() -> client.predict("nope", InputBatch.pixels(test.image(0), 1, 1, 28, 28)))
                .isInstanceOf(GuardClientException.class)
                .satisfies(e -> assertThat(((GuardClientException) e).code()).isEqualTo(Status.Code.NOT_FOUND));
        assertThatThrownBy(() -> client.predict("fashion-mnist", InputBatch.pixels(new float[2 * 64], 2, 1, 8, 8)))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("INVALID_ARGUMENT")
                .hasMessageContaining("shape");
        assertThatThrownBy(() -> client.predict("fashion-mnist", InputBatch.encoded(List.of(new byte[] {1, 2, 3}))))
                .isInstanceOf(InvalidRequestException.class);
        // Without a detector, flag mode answers normally and nothing is flagged or blocked.
        Prediction blockMode = client.predict(PredictRequest.of("fashion-mnist",
                InputBatch.pixels(test.image(0), 1, 1, 28, 28)).withMode(GuardMode.BLOCK));
        assertThat(blockMode.suspicious()).isFalse();
    }

    @Test
    void predictAndBenchCommands() throws IOException {
        Path png = dir.resolve("cli.png");
        BufferedImage image = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        image.getRaster().setPixels(0, 0, 28, 28, toInts(test.pixels(), 0));
        ImageIO.write(image, "png", png.toFile());
        CliRun predict = CliRun.of("predict", "--target", target, "--model", "fashion-mnist", "--labels",
                "fashion-mnist", png.toString());
        assertThat(predict.exitCode()).as(predict.err()).isZero();
        // The served bundle has no detector: no score, and the verdict must not claim a check ("ok").
        assertThat(predict.out().strip()).matches(".*cli\\.png\\s+\\S.*\\s+p=\\d\\.\\d{4}\\s+score=n/a\\s+unguarded");
        // guard serve's own --max-items refusal (default 64), which predict reads the limit from, in --batch's terms
        List<String> tooMany = new ArrayList<>(List.of("predict", "--target", target, "--model", "fashion-mnist",
                "--batch", "65"));
        tooMany.addAll(Collections.nCopies(65, png.toString()));
        assertThat(CliRun.of(tooMany.toArray(String[]::new)).err().strip()).isEqualTo("guard predict: error: --batch"
                + " 65: the server takes at most 64 images per request (guard serve --max-items); use --batch 64 or less");

        CliRun bench = CliRun.of("bench", "--target", target, "--model", "fashion-mnist", "--requests", "24",
                "--concurrency", "2", "--batch", "4", "--json");
        assertThat(bench.exitCode()).as(bench.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(bench.out());
        assertThat(json.get("sent").asLong()).isEqualTo(24);
        assertThat(json.get("ok").asLong()).isEqualTo(24);
        assertThat(json.get("items").asLong()).isEqualTo(96);
    }

    @Test
    void demoStartsTheRealServerShowsTheTableAndStopsIt() {
        CliRun demo = CliRun.of("demo", "--server-log", dir.resolve("demo-" + System.nanoTime() + ".log").toString(),
                "--server-command", serverCommand(), "--model-repository",
                repository.toString(), "--clean", "2", "--triggered", "2");
        assertThat(demo.exitCode()).as(demo.err() + demo.out()).isZero();
        assertThat(demo.out().lines().filter(line -> line.startsWith("#"))).hasSize(4);
        assertThat(demo.out()).contains("n/a (fashion-mnist-backdoored is not served)").contains("Server stopped.");
        Matcher metrics = Pattern.compile("Metrics: http://127\\.0\\.0\\.1:\\d+/metrics").matcher(demo.out());
        assertThat(metrics.find()).isTrue();
    }

    private static int[] toInts(byte[] bytes, int offset) {
        int[] values = new int[784];
        for (int p = 0; p < 784; p++) {
            values[p] = bytes[offset + p] & 0xff;
        }
        return values;
    }
}
