package dev.backdoorguard.core.arch;

/** A convolution and the BatchNorm that directly normalises its output (for CLP), by PyTorch name. */
public record ConvBnPair(String conv, String bn) {}
