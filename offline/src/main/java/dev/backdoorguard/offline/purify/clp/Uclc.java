package dev.backdoorguard.offline.purify.clp;

/**
 * CLP's upper bound of the channel Lipschitz constant (specs/clp-fst.md §3.2), exactly as the
 * reference computes it: for output channel k, {@code σ_max(W[k] as (C_in, kh·kw)) · |γ_k / √var_k|}
 * with no epsilon. σ_max is the square root of the largest eigenvalue of the small (kh·kw)² Gram
 * matrix, found by cyclic Jacobi in double precision (DJL has no SVD).
 */
final class Uclc {
    private static final int MAX_SWEEPS = 100;

    private Uclc() {}

    /** UCLC per output channel of a conv weight [out, in, kh, kw] followed by a BN (γ, running_var). */
    static double[] scores(float[] weight, long[] shape, float[] gamma, float[] runningVar) {
        int out = (int) shape[0];
        int in = (int) shape[1];
        int k = (int) (shape[2] * shape[3]);
        double[] scores = new double[out];
        for (int c = 0; c < out; c++) {
            double[][] gram = new double[k][k];
            int base = c * in * k;
            for (int row = 0; row < in; row++) {
                for (int i = 0; i < k; i++) {
                    double a = weight[base + row * k + i];
                    for (int j = i; j < k; j++) {
                        gram[i][j] += a * weight[base + row * k + j];
                    }
                }
            }
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < i; j++) {
                    gram[i][j] = gram[j][i];
                }
            }
            double sigma = Math.sqrt(Math.max(0, largestEigenvalue(gram)));
            scores[c] = sigma * Math.abs(gamma[c] / Math.sqrt((double) runningVar[c]));
        }
        return scores;
    }

    /** Largest eigenvalue of a symmetric matrix (cyclic Jacobi rotations; the matrix is overwritten). */
    static double largestEigenvalue(double[][] a) {
        int n = a.length;
        for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
            double off = 0;
            double diag = 0;
            for (int i = 0; i < n; i++) {
                diag += a[i][i] * a[i][i];
                for (int j = i + 1; j < n; j++) {
                    off += a[i][j] * a[i][j];
                }
            }
            if (off <= 1e-30 * Math.max(diag, 1e-300)) {
                break;
            }
            for (int p = 0; p < n; p++) {
                for (int q = p + 1; q < n; q++) {
                    if (a[p][q] == 0) {
                        continue;
                    }
                    double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
                    double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
                    if (theta == 0) {
                        t = 1;
                    }
                    double c = 1 / Math.sqrt(t * t + 1);
                    double s = t * c;
                    for (int r = 0; r < n; r++) {
                        double arp = a[r][p];
                        double arq = a[r][q];
                        a[r][p] = c * arp - s * arq;
                        a[r][q] = s * arp + c * arq;
                    }
                    for (int r = 0; r < n; r++) {
                        double apr = a[p][r];
                        double aqr = a[q][r];
                        a[p][r] = c * apr - s * aqr;
                        a[q][r] = s * apr + c * aqr;
                    }
                }
            }
        }
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, a[i][i]);
        }
        return max;
    }
}
