package dev.backdoorguard.server.rpc;

import dev.backdoorguard.core.guard.InvalidInputException;
import dev.backdoorguard.server.batch.DeadlineExpiredException;
import dev.backdoorguard.server.batch.QueueFullException;
import dev.backdoorguard.server.repository.ModelLoadException;
import dev.backdoorguard.server.repository.ModelNotFoundException;
import dev.backdoorguard.server.repository.ModelUnavailableException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The only mapping from exceptions to gRPC statuses (serving-ecosystem.md §1.3). */
final class GrpcErrors {
    private static final Logger logger = LoggerFactory.getLogger(GrpcErrors.class);

    private GrpcErrors() {}

    static StatusRuntimeException toStatus(Throwable t) {
        return status(t).asRuntimeException();
    }

    static Status status(Throwable t) {
        Throwable e = t;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        if (e instanceof StatusRuntimeException s) {
            return s.getStatus();
        }
        if (e instanceof InvalidInputException) {
            return Status.INVALID_ARGUMENT.withDescription(e.getMessage());
        }
        if (e instanceof ModelNotFoundException) {
            return Status.NOT_FOUND.withDescription(e.getMessage());
        }
        if (e instanceof ModelUnavailableException) {
            return Status.UNAVAILABLE.withDescription(e.getMessage());
        }
        if (e instanceof QueueFullException) {
            return Status.RESOURCE_EXHAUSTED.withDescription(e.getMessage());
        }
        if (e instanceof DeadlineExpiredException) {
            return Status.DEADLINE_EXCEEDED.withDescription(e.getMessage());
        }
        if (e instanceof InputBlockedException || e instanceof DetectorMissingException) {
            return Status.FAILED_PRECONDITION.withDescription(e.getMessage());
        }
        if (e instanceof ModelLoadException) {
            // The reason (a bundle problem) is the operator's own data: say it.
            return Status.INTERNAL.withDescription(e.getMessage());
        }
        logger.error("unexpected failure", e);
        return Status.INTERNAL.withDescription("internal error");
    }
}
