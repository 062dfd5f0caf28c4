package dev.backdoorguard.client;

import java.util.List;

/**
 * Runs {@link CannedInferenceServer} as a child process with {@code guard serve}'s flags, so the demo's process
 * handling is tested without libtorch: {@code --port P} is honoured, the other flags are accepted and ignored.
 */
public final class CannedServerMain {
    private CannedServerMain() {}

    public static void main(String[] args) throws Exception {
        List<String> list = List.of(args);
        int port = Integer.parseInt(list.get(list.indexOf("--port") + 1));
        CannedInferenceServer server = CannedInferenceServer.onPort(port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::close));
        // guard serve's ready line, which guard demo waits for
        System.out.println("guard serve: gRPC on port " + port + ", canned server on " + server.target());
        server.awaitTermination();
    }
}
