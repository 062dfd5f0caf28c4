package dev.backdoorguard.offline.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * Overlaid histograms of a few named samples on shared bins (detector scores, benign vs triggered),
 * as a PNG in {@link LineChart}'s style; each sample is normalised to its share per bin so that sets
 * of very different sizes compare, and an optional vertical marker (a threshold) is drawn.
 */
public final class HistogramChart {
    private static final int WIDTH = 640;
    private static final int HEIGHT = 400;
    private static final int LEFT = 70;
    private static final int RIGHT = 20;
    private static final int TOP = 40;
    private static final int BOTTOM = 50;
    private static final int BINS = 40;
    private static final Color[] PALETTE = {new Color(31, 119, 180), new Color(214, 39, 40), new Color(44, 160, 44)};

    private record Sample(String name, float[] values) {}

    private final String title;
    private final String xLabel;
    private final List<Sample> samples = new ArrayList<>();
    private Double marker;
    private String markerName;

    public HistogramChart(String title, String xLabel) {
        this.title = title;
        this.xLabel = xLabel;
    }

    public HistogramChart add(String name, float[] values) {
        samples.add(new Sample(name, values));
        return this;
    }

    /** A dashed vertical line at {@code x}, labelled. */
    public HistogramChart marker(String name, double x) {
        this.marker = x;
        this.markerName = name;
        return this;
    }

    /** The chart as PNG bytes. */
    public byte[] png() throws IOException {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (Sample s : samples) {
            for (float v : s.values()) {
                if (Float.isFinite(v)) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
        }
        if (!Double.isFinite(lo)) {
            lo = 0;
            hi = 1;
        }
        if (marker != null) {
            lo = Math.min(lo, marker);
            hi = Math.max(hi, marker);
        }
        if (hi == lo) {
            hi = lo + 1;
        }
        double[][] shares = new double[samples.size()][BINS];
        double top = 0;
        for (int s = 0; s < samples.size(); s++) {
            float[] values = samples.get(s).values();
            for (float v : values) {
                if (Float.isFinite(v)) {
                    int bin = (int) Math.min(BINS - 1, Math.floor((v - lo) / (hi - lo) * BINS));
                    shares[s][bin] += 1.0 / values.length;
                }
            }
            for (double share : shares[s]) {
                top = Math.max(top, share);
            }
        }
        top = top == 0 ? 1 : top * 1.05;
        BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, HEIGHT);
            drawAxes(g, lo, hi, top);
            int plotWidth = WIDTH - LEFT - RIGHT;
            int plotHeight = HEIGHT - TOP - BOTTOM;
            for (int s = 0; s < samples.size(); s++) {
                Color c = PALETTE[s % PALETTE.length];
                for (int b = 0; b < BINS; b++) {
                    int x0 = LEFT + plotWidth * b / BINS;
                    int x1 = LEFT + plotWidth * (b + 1) / BINS;
                    int h = (int) Math.round(shares[s][b] / top * plotHeight);
                    g.setColor(new Color(c.getRed(), c.getGreen(), c.getBlue(), 90));
                    g.fillRect(x0, HEIGHT - BOTTOM - h, x1 - x0, h);
                    g.setColor(c);
                    g.drawRect(x0, HEIGHT - BOTTOM - h, x1 - x0, h);
                }
                g.drawString(samples.get(s).name() + " (n = " + samples.get(s).values().length + ")",
                        WIDTH - RIGHT - 220, TOP + 16 * (s + 1));
            }
            if (marker != null) {
                int x = LEFT + (int) Math.round((marker - lo) / (hi - lo) * plotWidth);
                g.setColor(Color.BLACK);
                g.setStroke(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {6, 4}, 0));
                g.drawLine(x, TOP, x, HEIGHT - BOTTOM);
                g.drawString(markerName, x + 4, TOP + 12);
            }
        } finally {
            g.dispose();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }

    private void drawAxes(Graphics2D g, double lo, double hi, double top) {
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, LEFT, 16);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.drawLine(LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, HEIGHT - BOTTOM);
        g.drawLine(LEFT, TOP, LEFT, HEIGHT - BOTTOM);
        for (int t = 0; t <= 4; t++) {
            double yv = top * t / 4;
            int py = HEIGHT - BOTTOM - (int) Math.round((double) t / 4 * (HEIGHT - TOP - BOTTOM));
            g.drawString(String.format("%.3g", yv), 8, py + 4);
            double xv = lo + (hi - lo) * t / 4;
            int px = LEFT + (int) Math.round((double) t / 4 * (WIDTH - LEFT - RIGHT));
            g.drawString(String.format("%.3g", xv), px - 10, HEIGHT - BOTTOM + 16);
        }
        g.drawString(xLabel, (WIDTH - LEFT) / 2 + LEFT - 20, HEIGHT - 12);
        g.drawString("share per bin", 8, TOP - 8);
    }
}
