/**
 * {@code guard serve}: the composition root ({@link dev.backdoorguard.server.ServerMain}), the
 * configuration and the server's lifecycle.
 */
package dev.backdoorguard.server;
