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

/** A small PNG line chart (training curves, metric sweeps) drawn with java.awt, headless. */
public final class LineChart {
    private static final int WIDTH = 640;
    private static final int HEIGHT = 400;
    private static final int LEFT = 70;
    private static final int RIGHT = 20;
    private static final int TOP = 40;
    private static final int BOTTOM = 50;
    private static final Color[] PALETTE = {
        new Color(31, 119, 180), new Color(214, 39, 40), new Color(44, 160, 44), new Color(255, 127, 14)
    };

    /** One named series of points. */
    public record Series(String name, double[] x, double[] y) {
        public Series {
            if (x.length != y.length) {
                throw new IllegalArgumentException(name + ": " + x.length + " x values but " + y.length + " y values");
            }
        }
    }

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private final List<Series> series = new ArrayList<>();

    public LineChart(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    public LineChart add(Series s) {
        series.add(s);
        return this;
    }

    /** The chart as PNG bytes. */
    public byte[] png() throws IOException {
        BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, HEIGHT);
            double[] range = range();
            drawAxes(g, range);
            for (int i = 0; i < series.size(); i++) {
                drawSeries(g, series.get(i), range, PALETTE[i % PALETTE.length], i);
            }
        } finally {
            g.dispose();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }

    private double[] range() {
        double x0 = Double.POSITIVE_INFINITY;
        double x1 = Double.NEGATIVE_INFINITY;
        double y0 = Double.POSITIVE_INFINITY;
        double y1 = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                if (Double.isFinite(s.y()[i])) {
                    x0 = Math.min(x0, s.x()[i]);
                    x1 = Math.max(x1, s.x()[i]);
                    y0 = Math.min(y0, s.y()[i]);
                    y1 = Math.max(y1, s.y()[i]);
                }
            }
        }
        if (!Double.isFinite(x0)) {
            return new double[] {0, 1, 0, 1};
        }
        y0 = Math.min(y0, 0);
        if (x1 == x0) {
            x1 = x0 + 1;
        }
        if (y1 == y0) {
            y1 = y0 + 1;
        }
        return new double[] {x0, x1, y0, y1 + (y1 - y0) * 0.05};
    }

    private void drawAxes(Graphics2D g, double[] r) {
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, LEFT, 16);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.drawLine(LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, HEIGHT - BOTTOM);
        g.drawLine(LEFT, TOP, LEFT, HEIGHT - BOTTOM);
        for (int t = 0; t <= 4; t++) {
            double yv = r[2] + (r[3] - r[2]) * t / 4;
            int py = py(yv, r);
            g.setColor(new Color(230, 230, 230));
            g.drawLine(LEFT + 1, py, WIDTH - RIGHT, py);
            g.setColor(Color.BLACK);
            g.drawString(String.format("%.3g", yv), 8, py + 4);
            double xv = r[0] + (r[1] - r[0]) * t / 4;
            g.drawString(String.format("%.3g", xv), px(xv, r) - 10, HEIGHT - BOTTOM + 16);
        }
        g.drawString(xLabel, (WIDTH - LEFT) / 2 + LEFT - 20, HEIGHT - 12);
        g.drawString(yLabel, 8, TOP - 8);
    }

    private void drawSeries(Graphics2D g, Series s, double[] r, Color color, int index) {
        g.setColor(color);
        g.setStroke(new BasicStroke(2f));
        int prevX = -1;
        int prevY = -1;
        for (int i = 0; i < s.x().length; i++) {
            if (!Double.isFinite(s.y()[i])) {
                continue;
            }
            int x = px(s.x()[i], r);
            int y = py(s.y()[i], r);
            g.fillOval(x - 3, y - 3, 6, 6);
            if (prevX >= 0) {
                g.drawLine(prevX, prevY, x, y);
            }
            prevX = x;
            prevY = y;
        }
        g.drawString(s.name(), WIDTH - RIGHT - 150, TOP + 16 * (index + 1));
    }

    private static int px(double x, double[] r) {
        return LEFT + (int) Math.round((x - r[0]) / (r[1] - r[0]) * (WIDTH - LEFT - RIGHT));
    }

    private static int py(double y, double[] r) {
        return HEIGHT - BOTTOM - (int) Math.round((y - r[2]) / (r[3] - r[2]) * (HEIGHT - TOP - BOTTOM));
    }
}
