package dev.backdoorguard.server.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.guard.InvalidInputException;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class ImageDecoderTest {
    private static final ModelSpec SPEC = new ModelSpec("cnn-small", new int[] {1, 28, 28}, 10, new float[] {0f},
            new float[] {1f}, List.of(), null, null);

    @Test
    void aTinyFileDeclaringAHugeImageIsRefusedFromItsHeaderWithoutDecodingIt() throws IOException {
        // 33 bytes of PNG header declaring 30000x30000 8-bit gray (900 MB decoded) and no pixel data: refused by
        // its size before any raster is allocated (decoding first would allocate, then fail on the missing data).
        byte[] bomb = pngHeaderOnly(30_000, 30_000);
        float[] out = new float[784];
        assertThatThrownBy(() -> ImageDecoder.decode(bomb, SPEC, out, 0, "inputs[0].contents item 0"))
                .isInstanceOf(InvalidInputException.class)
                .hasMessage("inputs[0].contents item 0: image is 30000x30000 (WxH), the model expects 28x28;"
                        + " resize it before sending");
    }

    @Test
    void aRealImageOfTheRightSizeDecodesToItsPixels() throws IOException {
        BufferedImage image = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        image.getRaster().setSample(3, 2, 0, 255);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(image, "png", png);
        float[] out = new float[784];
        ImageDecoder.decode(png.toByteArray(), SPEC, out, 0, "x");
        assertThat(out[2 * 28 + 3]).isEqualTo(1f);
        assertThat(out[0]).isZero();
        assertThatThrownBy(() -> ImageDecoder.decode("not an image".getBytes(StandardCharsets.UTF_8), SPEC, out, 0,
                "x")).hasMessageContaining("x: undecodable image");
    }

    private static byte[] pngHeaderOnly(int width, int height) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(ihdr);
        d.writeBytes("IHDR");
        d.writeInt(width);
        d.writeInt(height);
        d.write(new byte[] {8, 0, 0, 0, 0}); // 8-bit, grayscale, deflate, no filter method, no interlace
        byte[] chunk = ihdr.toByteArray();
        out.writeInt(chunk.length - 4);
        out.write(chunk);
        CRC32 crc = new CRC32();
        crc.update(chunk);
        out.writeInt((int) crc.getValue());
        return bytes.toByteArray();
    }
}
