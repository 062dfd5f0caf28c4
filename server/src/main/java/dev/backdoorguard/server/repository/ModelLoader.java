package dev.backdoorguard.server.repository;

import dev.backdoorguard.core.guard.Guard;
import java.io.IOException;
import java.nio.file.Path;

/** The one way the server turns a bundle directory into a {@link Guard}; the composition root picks it. */
@FunctionalInterface
public interface ModelLoader {

    /** Loads the bundle in {@code dir}; the caller owns (and closes) the returned guard. */
    Guard load(Path dir) throws IOException;
}
