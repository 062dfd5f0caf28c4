/** The gRPC services, the one proto ↔ core mapping and the one exception → status mapping. */
package dev.backdoorguard.server.rpc;
