/** Java client of a Backdoor Guard server (Open Inference Protocol v2 plus the guard's outputs); depends on guard-proto and gRPC only. */
package dev.backdoorguard.client;
