/** The load generator behind {@code guard bench}: workloads from Fashion-MNIST IDX files, closed and open loops, reports. */
package dev.backdoorguard.client.load;
