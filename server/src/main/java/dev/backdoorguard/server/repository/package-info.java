/** The served models: loading, warm-up, hot swap with reference counting, unloading. */
package dev.backdoorguard.server.repository;
