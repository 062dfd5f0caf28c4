package dev.backdoorguard.server.rpc;

import dev.backdoorguard.core.guard.GuardException;

/** guard.mode=block and the detector flagged items: a policy outcome, answered FAILED_PRECONDITION. */
final class InputBlockedException extends GuardException {
    InputBlockedException(String message) {
        super(message);
    }
}
