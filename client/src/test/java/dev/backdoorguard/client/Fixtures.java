package dev.backdoorguard.client;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Test images and certificates. */
final class Fixtures {
    private Fixtures() {}

    /** A 28x28 image of constant {@code gray}, with the badnets square white when {@code triggered}. */
    static float[] image(float gray, boolean triggered) {
        float[] pixels = new float[28 * 28];
        Arrays.fill(pixels, gray);
        if (triggered) {
            for (int r = 24; r <= 26; r++) {
                for (int c = 24; c <= 26; c++) {
                    pixels[r * 28 + c] = 1f;
                }
            }
        }
        return pixels;
    }

    static BufferedImage gray(float[] pixels) {
        BufferedImage image = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        for (int p = 0; p < pixels.length; p++) {
            int v = Math.round(pixels[p] * 255);
            image.getRaster().setSample(p % 28, p / 28, 0, v);
        }
        return image;
    }

    static float[] concat(float[]... items) {
        float[] all = new float[items.length * 28 * 28];
        for (int i = 0; i < items.length; i++) {
            System.arraycopy(items[i], 0, all, i * 28 * 28, 28 * 28);
        }
        return all;
    }

    /** A self-signed certificate for localhost/127.0.0.1 made with openssl: [cert.pem, key.pem]. */
    static List<Path> selfSigned(Path dir, String name) throws IOException, InterruptedException {
        Path cert = dir.resolve(name + "-cert.pem");
        Path key = dir.resolve(name + "-key.pem");
        Process process = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key.toString(), "-out", cert.toString(), "-days", "1", "-subj", "/CN=" + name,
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
                .redirectErrorStream(true).redirectOutput(dir.resolve(name + ".log").toFile()).start();
        if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IOException("openssl failed, see " + dir.resolve(name + ".log"));
        }
        return List.of(cert, key);
    }
}
