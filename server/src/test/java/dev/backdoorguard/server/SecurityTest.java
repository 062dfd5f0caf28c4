package dev.backdoorguard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.RepositoryIndexRequest;
import dev.backdoorguard.proto.inference.RepositoryModelLoadRequest;
import dev.backdoorguard.proto.inference.ServerLiveRequest;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS, mutual TLS and the bearer token on repository RPCs, with certificates made by openssl here. */
class SecurityTest {
    @TempDir
    static Path dir;
    private static Path repo;

    private static void openssl(String... args) throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>(List.of("openssl"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("openssl %s: %s", command, output).isZero();
    }

    /** A CA, a server certificate for localhost/127.0.0.1 and a client certificate, all signed by the CA. */
    @BeforeAll
    static void certificates() throws Exception {
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                "-subj", "/CN=test-ca");
        for (String who : new String[] {"server", "client"}) {
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", who + ".key", "-out", who + ".csr", "-subj",
                    "/CN=" + who);
            Files.writeString(dir.resolve(who + ".ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
            openssl("x509", "-req", "-in", who + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", who + ".pem", "-days", "2", "-extfile", who + ".ext");
        }
        repo = dir.resolve("repo");
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
    }

    private static ManagedChannel tlsChannel(GuardServer server, boolean clientCertificate) throws IOException {
        TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder()
                .trustManager(dir.resolve("ca.pem").toFile());
        if (clientCertificate) {
            tls.keyManager(dir.resolve("client.pem").toFile(), dir.resolve("client.key").toFile());
        }
        ChannelCredentials credentials = tls.build();
        return Grpc.newChannelBuilderForAddress("localhost", server.port(), credentials).build();
    }

    private static Map<String, String> tls(boolean mutual) {
        Map<String, String> s = new java.util.HashMap<>(Map.of(
                "GUARD_TLS_CERT", dir.resolve("server.pem").toString(),
                "GUARD_TLS_KEY", dir.resolve("server.key").toString()));
        if (mutual) {
            s.put("GUARD_TLS_CLIENT_CA", dir.resolve("ca.pem").toString());
        }
        return s;
    }

    @Test
    void tlsServesTlsClientsAndRefusesPlaintext() throws Exception {
        try (GuardServer server = ServerMain.start(TestServers.config(repo, tls(false)), TestServers.realLoader())) {
            ManagedChannel secure = tlsChannel(server, false);
            assertThat(TestServers.stub(secure).serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
            TestServers.close(secure);
            ManagedChannel plain = TestServers.channel(server);
            assertThatThrownBy(() -> TestServers.stub(plain).withDeadlineAfter(5, TimeUnit.SECONDS)
                    .serverLive(ServerLiveRequest.getDefaultInstance()))
                    .isInstanceOf(StatusRuntimeException.class);
            TestServers.close(plain);
        }
    }

    @Test
    void mutualTlsRequiresAClientCertificateSignedByTheCa() throws Exception {
        Map<String, String> settings = tls(true);
        settings.put("GUARD_HEALTH_PORT", "0");
        try (GuardServer server = ServerMain.start(TestServers.config(repo, settings), TestServers.realLoader())) {
            // Kubernetes gRPC probes speak no TLS: the health-only port answers in plaintext.
            ManagedChannel probe = io.grpc.ManagedChannelBuilder.forAddress("127.0.0.1", server.healthPort())
                    .usePlaintext().build();
            assertThat(io.grpc.health.v1.HealthGrpc.newBlockingStub(probe).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .check(io.grpc.health.v1.HealthCheckRequest.newBuilder().setService("m").build()).getStatus())
                    .isEqualTo(io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
            assertThatThrownBy(() -> TestServers.stub(probe).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .serverLive(ServerLiveRequest.getDefaultInstance()))
                    .isInstanceOfSatisfying(StatusRuntimeException.class,
                            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED));
            TestServers.close(probe);
            ManagedChannel withCertificate = tlsChannel(server, true);
            assertThat(TestServers.stub(withCertificate).serverLive(ServerLiveRequest.getDefaultInstance()).getLive())
                    .isTrue();
            TestServers.close(withCertificate);
            ManagedChannel without = tlsChannel(server, false);
            assertThatThrownBy(() -> TestServers.stub(without).withDeadlineAfter(5, TimeUnit.SECONDS)
                    .serverLive(ServerLiveRequest.getDefaultInstance()))
                    .isInstanceOfSatisfying(StatusRuntimeException.class,
                            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
            TestServers.close(without);
        }
    }

    @Test
    void repositoryRpcsNeedTheBearerTokenAndInferenceDoesNot() throws Exception {
        try (GuardServer server = ServerMain.start(TestServers.config(repo, Map.of("GUARD_TOKEN", "s3cret")),
                TestServers.realLoader())) {
            ManagedChannel channel = TestServers.channel(server);
            GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub anonymous = TestServers.stub(channel);
            assertThat(anonymous.modelInfer(TestServers.fp32("m", TestServers.randomPixels(1, 1))).getOutputsCount())
                    .isEqualTo(5);
            for (Runnable call : List.<Runnable>of(
                    () -> anonymous.repositoryIndex(RepositoryIndexRequest.getDefaultInstance()),
                    () -> anonymous.repositoryModelLoad(RepositoryModelLoadRequest.newBuilder().setModelName("m")
                            .build()))) {
                assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
                    assertThat(e.getStatus().getDescription()).contains("Bearer");
                });
            }
            assertThatThrownBy(() -> anonymous.withInterceptors(bearer("wrong"))
                    .repositoryIndex(RepositoryIndexRequest.getDefaultInstance()))
                    .isInstanceOfSatisfying(StatusRuntimeException.class,
                            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
            GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub admin = anonymous.withInterceptors(bearer("s3cret"));
            assertThat(admin.repositoryIndex(RepositoryIndexRequest.getDefaultInstance()).getModelsCount()).isEqualTo(1);
            admin.repositoryModelLoad(RepositoryModelLoadRequest.newBuilder().setModelName("m").build());
            TestServers.close(channel);
        }
    }

    private static io.grpc.ClientInterceptor bearer(String token) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return MetadataUtils.newAttachHeadersInterceptor(headers);
    }
}
