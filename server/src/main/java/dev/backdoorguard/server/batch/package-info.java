/** Execution: the bounded queue, the dynamic batcher and its fixed pool of inference workers. */
package dev.backdoorguard.server.batch;
