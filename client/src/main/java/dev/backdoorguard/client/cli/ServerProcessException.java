package dev.backdoorguard.client.cli;

/** The demo's server child process did not start or did not become healthy. */
final class ServerProcessException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ServerProcessException(String message) {
        super(message);
    }
}
