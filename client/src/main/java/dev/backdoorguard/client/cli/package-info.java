/** The client executable: {@code guard predict}, {@code guard bench} and {@code guard demo}. */
package dev.backdoorguard.client.cli;
