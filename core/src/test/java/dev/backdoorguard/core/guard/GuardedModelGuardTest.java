package dev.backdoorguard.core.guard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.TestModels;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.BundleException;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.core.bundle.FloatFormat;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.bundle.SafeTensors;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.detect.ClassStatistics;
import dev.backdoorguard.core.detect.ClassifierFeatures;
import dev.backdoorguard.core.detect.CriticalLayerDetector;
import dev.backdoorguard.core.detect.CriticalLayerCalibration;
import dev.backdoorguard.core.detect.DetectorArtifact;
import dev.backdoorguard.core.detect.DetectorCalibration;
import dev.backdoorguard.core.detect.FeatureBatch;
import dev.backdoorguard.core.detect.FeatureSource;
import dev.backdoorguard.core.detect.ScoreRule;
import dev.backdoorguard.core.detect.ThresholdRule;
import dev.backdoorguard.core.detect.WeightMode;
import dev.backdoorguard.core.model.Classifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guarded path of {@link ModelGuard} on a tiny seeded cnn-small with a detector calibrated on
 * random images: engine scores equal the heap reference, no leaks, thread-safety, batch
 * independence, the artifact round trip and the refusal of a detector that belongs to other weights.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GuardedModelGuardTest {
    private static final int N = 40;

    @TempDir static Path tmp;
    private Path bundle;
    private ImageDataset images;
    private DetectorCalibration calibration;

    private static ImageDataset randomImages(int n, long seed) {
        Random random = new Random(seed);
        float[] pixels = new float[n * 28 * 28];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            float brightness = random.nextFloat();
            for (int p = 0; p < 784; p++) {
                pixels[i * 784 + p] = brightness * random.nextFloat();
            }
            labels[i] = i % 10;
        }
        return new ImageDataset(1, 28, 28, 10, pixels, labels);
    }

    @BeforeAll
    void calibrateATinyBundle() throws Exception {
        bundle = tmp.resolve("m");
        images = randomImages(N, 3);
        calibration = writeCalibratedBundle(bundle, ScoreRule.COSINE_SUM, FloatFormat.F32);
    }

    /**
     * Writes the seeded tiny cnn-small into {@code dir}, calibrates it on the random images (unweighted,
     * τ = 2.5) and writes the detector: the calibration.
     */
    private DetectorCalibration writeCalibratedBundle(Path dir, ScoreRule score, FloatFormat centroids)
            throws Exception {
        DetectorCalibration cal;
        try (Classifier classifier = Classifier.create(TestModels.fashion("cnn-small", null), Architectures.standard(), 7)) {
            Bundles.write(dir, false, classifier.spec(), classifier.stateDict(), null);
            // A random network predicts few classes; localise by the true labels instead so that every
            // class has samples (the math does not care where the grouping comes from).
            FeatureSource features = new ClassifierFeatures(classifier, images, 16, done -> {});
            FeatureSource byLabel = consumer -> features.forEachBatch(b -> consumer.accept(
                    new FeatureBatch(b.size(), b.labels(), b.labels(), b.features())));
            cal = new CriticalLayerCalibration(classifier.architecture().taps(), 10, WeightMode.UNWEIGHTED, score,
                    ThresholdRule.gaussian(2.5), centroids).calibrate(byLabel);
        }
        writeDetector(dir, cal);
        return cal;
    }

    private static void writeDetector(Path dir, DetectorCalibration cal) throws Exception {
        ObjectNode provenance = new ObjectMapper().createObjectNode();
        provenance.put("weights_sha256", Bundles.sha256(dir.resolve("weights.safetensors")));
        provenance.put("model_json_sha256", Bundles.sha256(dir.resolve("model.json")));
        provenance.put("seed", 0);
        new DetectorArtifact(cal, provenance).write(dir);
    }

    /** Sample {@code i}'s flattened taps from a heap feature batch. */
    private static float[][] sampleFeatures(FeatureBatch f, int i) {
        float[][] sample = new float[f.features().length][];
        for (int l = 0; l < sample.length; l++) {
            int d = f.dim(l);
            sample[l] = java.util.Arrays.copyOfRange(f.features()[l], i * d, (i + 1) * d);
        }
        return sample;
    }

    private PixelBatch batch(int from, int n) {
        float[] px = new float[n * 784];
        System.arraycopy(images.pixels(), from * 784, px, 0, px.length);
        return new PixelBatch(px, n, 1, 28, 28);
    }

    @Test
    void engineScoresEqualTheHeapReferenceAndFlagsFollowTheThreshold() throws Exception {
        try (ModelGuard guard = ModelGuard.load(bundle, Architectures.standard());
                Classifier classifier = Classifier.load(bundle, Architectures.standard())) {
            assertThat(guard.hasDetector()).isTrue();
            BatchPrediction p = guard.predict(batch(0, N), true);
            float[] raw = guard.rawScores(batch(0, N));
            assertThat(p.isGuarded()).isTrue();
            List<FeatureBatch> heap = new ArrayList<>();
            new ClassifierFeatures(classifier, images, N, done -> {}).forEachBatch(heap::add);
            FeatureBatch f = heap.get(0);
            for (int i = 0; i < N; i++) {
                int label = p.labels()[i];
                assertThat(label).isEqualTo(f.predicted()[i]);
                float[][] sample = sampleFeatures(f, i);
                double expected = calibration.score(label, sample);
                assertThat((double) raw[i]).isCloseTo(expected, within(1e-5));
                ClassStatistics stats = calibration.classes().get(label);
                assertThat((double) p.scores()[i]).isCloseTo(stats.margin(raw[i]), within(1e-3));
                assertThat(p.flags()[i]).isEqualTo(raw[i] < stats.threshold());
            }
        }
    }

    @Test
    void guardedPredictionsAndInspectionLeakNothingIntoTheModelsManager() throws Exception {
        JniUtils.setGradMode(true); // the thread's default, as a training thread would have it
        try (ModelGuard guard = ModelGuard.load(bundle, Architectures.standard())) {
            BatchPrediction plain = guard.predict(batch(0, 5), false);
            guard.manager().cap();
            BatchPrediction p = guard.predict(batch(0, 5), true);
            assertThat(p.logits()).containsExactly(plain.logits());
            assertThat(plain.isGuarded()).isFalse();
            Inspection inspection = guard.inspect(batch(2, 1));
            assertThat(inspection.label()).isEqualTo(p.labels()[2]);
            assertThat(inspection.margin()).isCloseTo(p.scores()[2], within(1e-4));
            assertThat(inspection.flagged()).isEqualTo(p.flags()[2]);
            assertThat(inspection.layers()).hasSize(3);
            double sum = inspection.layers().stream().mapToDouble(l -> l.weight() * l.cosine()).sum();
            assertThat(sum).isCloseTo(inspection.score(), within(1e-5));
            ClassStatistics stats = calibration.classes().get(inspection.label());
            assertThat(inspection.criticalTap()).isEqualTo(calibration.taps().get(stats.criticalLayer()));
            assertThat(inspection.threshold()).isEqualTo(stats.threshold());
            // every entry point ran with grad mode off and handed this thread back its default (on)
            assertThat(JniUtils.isGradMode()).isTrue();
        }
    }

    @Test
    void concurrentCallersAndOneByOneCallsGetTheBatchsScores() throws Exception {
        try (ModelGuard guard = ModelGuard.load(bundle, Architectures.standard())) {
            // A batch and the same images one at a time agree. Without the SIMD kernel a batch over the heap
            // path's limit is scored by engine products (CriticalLayerDetectorTest runs every golden case
            // through both paths); this JVM has the kernel, so both are scored on the heap here.
            int large = CriticalLayerDetector.HEAP_SCORING_MAX_BATCH + 4;
            int small = CriticalLayerDetector.HEAP_SCORING_MAX_BATCH / 2;
            assertThat(large).isLessThanOrEqualTo(N);
            BatchPrediction whole = guard.predict(batch(0, large), true);
            for (int i = 0; i < large; i++) {
                BatchPrediction one = guard.predict(batch(i, 1), true);
                assertThat(one.labels()[0]).isEqualTo(whole.labels()[i]);
                assertThat(one.scores()[0]).isCloseTo(whole.scores()[i], within(1e-4f));
                assertThat(one.flags()[0]).isEqualTo(whole.flags()[i]);
            }
            BatchPrediction fewer = guard.predict(batch(0, small), true);
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                // Both paths under concurrency.
                List<Future<BatchPrediction>> futures = new ArrayList<>();
                List<Future<BatchPrediction>> smallFutures = new ArrayList<>();
                for (int round = 0; round < 16; round++) {
                    futures.add(pool.submit(() -> guard.predict(batch(0, large), true)));
                    smallFutures.add(pool.submit(() -> guard.predict(batch(0, small), true)));
                }
                for (Future<BatchPrediction> f : futures) {
                    assertThat(f.get().scores()).containsExactly(whole.scores());
                    assertThat(f.get().flags()).containsExactly(whole.flags());
                }
                for (Future<BatchPrediction> f : smallFutures) {
                    assertThat(f.get().scores()).containsExactly(fewer.scores());
                    assertThat(f.get().flags()).containsExactly(fewer.flags());
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void summarisesTheCalibration() throws Exception {
        try (ModelGuard guard = ModelGuard.load(bundle, Architectures.standard())) {
            DetectorSummary s = guard.detector().orElseThrow();
            assertThat(s.method()).isEqualTo("critical-layer");
            assertThat(s.weightMode()).isEqualTo("unweighted");
            assertThat(s.thresholdRule()).isEqualTo("gaussian");
            assertThat(s.tau()).isEqualTo(2.5);
            assertThat(s.taps()).hasSize(7).endsWith("logits");
            assertThat(s.classes()).hasSize(10);
            assertThat(s.classes().get(3).referenceSamples()).isEqualTo(4);
            assertThat(s.weightsSha256()).isEqualTo(Bundles.sha256(bundle.resolve("weights.safetensors")));
        }
    }

    @Test
    void theArtifactRoundTrips() throws Exception {
        DetectorArtifact read = DetectorArtifact.read(bundle);
        DetectorCalibration back = read.calibration();
        assertThat(back.taps()).isEqualTo(calibration.taps());
        assertThat(back.dims()).isEqualTo(calibration.dims());
        assertThat(back.weightMode()).isEqualTo(calibration.weightMode());
        assertThat(back.rule()).isEqualTo(calibration.rule());
        for (int c = 0; c < 10; c++) {
            ClassStatistics a = calibration.classes().get(c);
            ClassStatistics b = back.classes().get(c);
            assertThat(b.criticalLayer()).isEqualTo(a.criticalLayer());
            assertThat(b.candidates()).isEqualTo(a.candidates());
            assertThat(b.weights()).isEqualTo(a.weights());
            assertThat(b.mean()).isEqualTo(a.mean());
            assertThat(b.std()).isEqualTo(a.std());
            assertThat(b.threshold()).isEqualTo(a.threshold());
            assertThat(b.similarity()).isEqualTo(a.similarity());
            assertThat(b.delta()).isEqualTo(a.delta());
            for (int j = 0; j < 3; j++) {
                assertThat(b.centroids()[j]).isEqualTo(a.centroids()[j]);
            }
        }
        assertThat(SafeTensors.read(bundle.resolve(DetectorArtifact.TENSORS_FILE)).keySet())
                .contains("centroid.0." + calibration.taps().get(calibration.classes().get(0).criticalLayer()));
    }

    @Test
    void aMahalanobisDetectorRoundTripsAndIsServedAsCalibrated() throws Exception {
        Path dir = tmp.resolve("mahalanobis");
        DetectorCalibration cal = writeCalibratedBundle(dir, ScoreRule.MAHALANOBIS, FloatFormat.F32);
        // cnn-small's 7 taps: h = 3, so every class scores taps 2..5 (features.9 ... classifier.1).
        assertThat(cal.classes()).allSatisfy(c -> {
            assertThat(c.candidates()).containsExactly(2, 3, 4, 5);
            assertThat(c.mahalanobis().size()).isEqualTo(4);
        });
        DetectorCalibration back = DetectorArtifact.read(dir).calibration();
        assertThat(back.scoreRule()).isEqualTo(ScoreRule.MAHALANOBIS);
        // Format 2, so that a reader of format 1 (cosine sums only) refuses it instead of misreading it;
        // and a format-1 file claiming the Mahalanobis score is refused here.
        Path json = dir.resolve(DetectorArtifact.JSON_FILE);
        ObjectNode tree = (ObjectNode) new ObjectMapper().readTree(json.toFile());
        assertThat(tree.get("format").asInt()).isEqualTo(2);
        Path mislabelled = tmp.resolve("mislabelled");
        Files.createDirectories(mislabelled);
        Files.copy(dir.resolve(DetectorArtifact.TENSORS_FILE), mislabelled.resolve(DetectorArtifact.TENSORS_FILE));
        new ObjectMapper().writeValue(mislabelled.resolve(DetectorArtifact.JSON_FILE).toFile(), tree.put("format", 1));
        assertThatThrownBy(() -> DetectorArtifact.read(mislabelled)).isInstanceOf(BundleException.class)
                .hasMessageContaining("'format' 1 does not go with 'score' mahalanobis");
        for (int c = 0; c < 10; c++) {
            assertThat(back.classes().get(c).mahalanobis().mean()).isEqualTo(cal.classes().get(c).mahalanobis().mean());
            assertThat(back.classes().get(c).mahalanobis().precision())
                    .isEqualTo(cal.classes().get(c).mahalanobis().precision());
            assertThat(back.classes().get(c).threshold()).isEqualTo(cal.classes().get(c).threshold());
        }
        try (ModelGuard guard = ModelGuard.load(dir, Architectures.standard());
                Classifier classifier = Classifier.load(dir, Architectures.standard())) {
            assertThat(guard.detector().orElseThrow().score()).isEqualTo("mahalanobis");
            BatchPrediction p = guard.predict(batch(0, N), true);
            float[] raw = guard.rawScores(batch(0, N));
            List<FeatureBatch> heap = new ArrayList<>();
            new ClassifierFeatures(classifier, images, N, done -> {}).forEachBatch(heap::add);
            FeatureBatch f = heap.get(0);
            int flagged = 0;
            for (int i = 0; i < N; i++) {
                float[][] sample = sampleFeatures(f, i);
                int label = p.labels()[i];
                double expected = cal.score(label, sample);
                ClassStatistics stats = cal.classes().get(label);
                // The engine's float32 cosines carry ~1e-6 relative errors that P (≈ 1/variance of the benign
                // cosines) magnifies, and the score is returned as a float: compare within 1% of the class's
                // benign score spread (a wrong tap, mean or matrix is off by about the spread or more) or
                // the score's own float resolution.
                assertThat((double) raw[i]).isCloseTo(expected,
                        within(Math.max(1e-2 * stats.std(), 1e-6 * Math.abs(expected))));
                assertThat(p.flags()[i]).isEqualTo(raw[i] < stats.threshold());
                flagged += p.flags()[i] ? 1 : 0;
            }
            // The untrained network predicts few classes, so most images are scored against a class
            // they do not belong to: the distance score must flag some of them.
            assertThat(flagged).isPositive();
        }
    }

    @Test
    void halfPrecisionCentroidsAreRoundedBeforeTheStatisticsAndServedAsCalibrated() throws Exception {
        Path half = tmp.resolve("half");
        DetectorCalibration f16 = writeCalibratedBundle(half, ScoreRule.COSINE_SUM, FloatFormat.F16);
        for (ClassStatistics s : f16.classes()) {
            for (float[] centroid : s.centroids()) {
                for (float v : centroid) {
                    assertThat(FloatFormat.F16.round(v)).isEqualTo(v);
                }
            }
        }
        DetectorCalibration back = DetectorArtifact.read(half).calibration();
        assertThat(back.centroidFormat()).isEqualTo(FloatFormat.F16);
        for (int c = 0; c < 10; c++) {
            for (int j = 0; j < 3; j++) {
                assertThat(back.classes().get(c).centroids()[j]).isEqualTo(f16.classes().get(c).centroids()[j]);
            }
        }
        assertThat(Files.size(half.resolve(DetectorArtifact.TENSORS_FILE)))
                .isLessThan(Files.size(bundle.resolve(DetectorArtifact.TENSORS_FILE)) * 6 / 10);
        // The thresholds barely move: the rounding is far below the benign spread.
        for (int c = 0; c < 10; c++) {
            assertThat(f16.classes().get(c).threshold()).isCloseTo(calibration.classes().get(c).threshold(),
                    org.assertj.core.data.Offset.offset(1e-3));
        }
        try (ModelGuard guard = ModelGuard.load(half, Architectures.standard())) {
            BatchPrediction p = guard.predict(batch(0, 8), true);
            assertThat(p.isGuarded()).isTrue();
        }
    }

    @Test
    void refusesADetectorCalibratedForOtherWeights() throws Exception {
        Path edited = tmp.resolve("edited");
        Files.createDirectories(edited);
        for (String f : List.of("model.json", DetectorArtifact.JSON_FILE, DetectorArtifact.TENSORS_FILE)) {
            Files.copy(bundle.resolve(f), edited.resolve(f));
        }
        Map<String, HostTensor> weights = new LinkedHashMap<>(SafeTensors.read(bundle.resolve("weights.safetensors")));
        HostTensor w = weights.get("classifier.2.bias");
        float[] changed = w.floats().clone();
        changed[0] += 0.5f;
        weights.put(w.name(), HostTensor.ofFloats(w.name(), w.shape(), changed));
        SafeTensors.write(edited.resolve("weights.safetensors"), weights, Map.of("format", "pt"));
        assertThatThrownBy(() -> ModelGuard.load(edited, Architectures.standard()))
                .isInstanceOf(BundleException.class)
                .hasMessageContaining("weights.safetensors with SHA-256 " + Bundles.sha256(bundle.resolve("weights.safetensors")))
                .hasMessageContaining(Bundles.sha256(edited.resolve("weights.safetensors")));
        // Without the detector files the same weights load as a plain model.
        Files.delete(edited.resolve(DetectorArtifact.JSON_FILE));
        try (ModelGuard guard = ModelGuard.load(edited, Architectures.standard())) {
            assertThat(guard.hasDetector()).isFalse();
            assertThat(guard.predict(batch(0, 2), true).isGuarded()).isFalse();
        }
    }
}
