/** The {@code guard.*} meters and the Prometheus {@code /metrics} endpoint. */
package dev.backdoorguard.server.metrics;
