package dev.backdoorguard.core.guard;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.arch.TapRecorder;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.detect.ClassStatistics;
import dev.backdoorguard.core.detect.CriticalLayerDetector;
import dev.backdoorguard.core.detect.DetectorArtifact;
import dev.backdoorguard.core.detect.DetectorCalibration;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.core.model.Logits;
import dev.backdoorguard.core.model.NoGrad;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The DJL implementation of {@link Guard}: one {@link Classifier} shared read-only by every caller,
 * one sub-manager per batch, so every array of the forward pass is freed when the call returns.
 * With a detector, the guarded path scores the detector's taps as the one forward pass produces them
 * ({@link CriticalLayerDetector.Batch}); only the logits and a few small arrays reach the heap.
 */
public final class ModelGuard implements Guard {
    private final Classifier classifier;
    private final CriticalLayerDetector detector;
    private final DetectorSummary summary;

    /** Takes ownership of {@code classifier}: closing the guard closes it. No detector. */
    public ModelGuard(Classifier classifier) {
        this.classifier = classifier;
        this.detector = null;
        this.summary = null;
    }

    /**
     * Takes ownership of {@code classifier} and serves {@code calibration} with it (its centroids are
     * copied into the classifier's manager). The caller has verified that the calibration belongs to
     * the classifier ({@link DetectorArtifact#verify}).
     */
    public ModelGuard(Classifier classifier, DetectorCalibration calibration, String weightsSha256) {
        this.classifier = classifier;
        this.detector = new CriticalLayerDetector(calibration, classifier.manager());
        this.summary = summarize(calibration, weightsSha256);
    }

    /**
     * Loads a bundle's classifier and, when {@code detector.json} is present, its detector, refusing
     * a detector that does not match the weights, {@code model.json} or the architecture's taps.
     */
    public static ModelGuard load(Path bundle, Architectures registry) throws IOException {
        Classifier classifier = Classifier.load(bundle, registry);
        try {
            if (!DetectorArtifact.isPresent(bundle)) {
                return new ModelGuard(classifier);
            }
            DetectorArtifact artifact = DetectorArtifact.read(bundle);
            artifact.verify(bundle, classifier.architecture().taps(), tapDimensions(classifier),
                    classifier.spec().numClasses());
            return new ModelGuard(classifier, artifact.calibration(),
                    artifact.provenance().get("weights_sha256").asText());
        } catch (IOException | RuntimeException e) {
            classifier.close();
            throw e;
        }
    }

    /** The flattened size of every declared tap, from one forward pass of a blank image. */
    public static int[] tapDimensions(Classifier classifier) {
        ModelSpec spec = classifier.spec();
        List<String> taps = classifier.architecture().taps();
        try (NoGrad noGrad = NoGrad.enter(); NDManager scope = classifier.manager().newSubManager()) {
            NDArray x = scope.zeros(new Shape(1, spec.channels(), spec.height(), spec.imageWidth()));
            Map<String, Long> sizes = new HashMap<>();
            classifier.forward(x, false, (tap, activation) -> sizes.put(tap, activation.size()));
            int[] dims = new int[taps.size()];
            for (int l = 0; l < dims.length; l++) {
                dims[l] = Math.toIntExact(sizes.get(taps.get(l)));
            }
            return dims;
        }
    }

    @Override
    public ModelSpec spec() {
        return classifier.spec();
    }

    @Override
    public boolean hasDetector() {
        return detector != null;
    }

    @Override
    public Optional<DetectorSummary> detector() {
        return Optional.ofNullable(summary);
    }

    @Override
    public Inspection inspect(PixelBatch image) {
        CriticalLayerDetector detector = requireDetector();
        if (image.size() != 1) {
            throw new InvalidInputException("inspect takes exactly one image, got " + image.size());
        }
        try (NoGrad noGrad = NoGrad.enter(); NDManager scope = classifier.manager().newSubManager()) {
            CriticalLayerDetector.Batch scoring = detector.newBatch(1);
            int label = labels(forward(scope, image, scoring))[0];
            CriticalLayerDetector.Scores scores = scoring.finish(new int[] {label});
            float s = scores.scores()[0];
            DetectorCalibration cal = detector.calibration();
            ClassStatistics stats = cal.classes().get(label);
            List<Inspection.LayerScore> layers = new ArrayList<>();
            for (int j = 0; j < stats.candidates().length; j++) {
                int l = stats.candidates()[j];
                layers.add(new Inspection.LayerScore(cal.taps().get(l), scores.cosine(0, detector.slotOf(l)),
                        stats.weights()[j]));
            }
            return new Inspection(label, cal.taps().get(stats.criticalLayer()), layers, s, stats.threshold(),
                    stats.margin(s), stats.isFlagged(s));
        }
    }

    @Override
    public BatchPrediction predict(PixelBatch batch, boolean guard) {
        ModelSpec spec = classifier.spec();
        boolean guarded = guard && detector != null;
        try (NoGrad noGrad = NoGrad.enter(); NDManager scope = classifier.manager().newSubManager()) {
            CriticalLayerDetector.Batch scoring = guarded ? detector.newBatch(batch.size()) : null;
            NDArray logits = forward(scope, batch, guarded ? scoring : TapRecorder.NONE);
            float[] logitValues = logits.toFloatArray();
            float[] probabilities = Logits.softmax(logitValues, spec.numClasses());
            int[] labels = Logits.argmax(logitValues, spec.numClasses());
            if (!guarded) {
                return new BatchPrediction(batch.size(), spec.numClasses(), logitValues, probabilities, labels, null,
                        null);
            }
            float[] s = scoring.finish(labels).scores();
            float[] margins = new float[s.length];
            boolean[] flags = new boolean[s.length];
            for (int i = 0; i < s.length; i++) {
                ClassStatistics stats = detector.calibration().classes().get(labels[i]);
                margins[i] = (float) stats.margin(s[i]);
                flags[i] = stats.isFlagged(s[i]);
            }
            return new BatchPrediction(batch.size(), spec.numClasses(), logitValues, probabilities, labels, margins,
                    flags);
        }
    }

    /**
     * The raw detector scores s (not the margins) of a batch: for calibration reports and tests that
     * compare with the heap-side {@link DetectorCalibration#score}.
     */
    public float[] rawScores(PixelBatch batch) {
        CriticalLayerDetector detector = requireDetector();
        try (NoGrad noGrad = NoGrad.enter(); NDManager scope = classifier.manager().newSubManager()) {
            CriticalLayerDetector.Batch scoring = detector.newBatch(batch.size());
            return scoring.finish(labels(forward(scope, batch, scoring))).scores();
        }
    }

    private CriticalLayerDetector requireDetector() {
        if (detector == null) {
            throw new GuardException("model " + classifier.spec().architecture() + " has no calibrated detector");
        }
        return detector;
    }

    /** One forward pass of {@code batch} in {@code scope}, offering its taps to {@code recorder}: the logits. */
    private NDArray forward(NDManager scope, PixelBatch batch, TapRecorder recorder) {
        checkShape(batch); // the caller holds a NoGrad scope: inference must not record an autograd graph
        NDArray x = scope.create(batch.pixels(), new Shape(batch.size(), batch.channels(), batch.height(),
                batch.width()));
        return classifier.forward(x, false, recorder);
    }

    /** ŷ = argmax of each row of the logits. */
    private int[] labels(NDArray logits) {
        return Logits.argmax(logits.toFloatArray(), classifier.spec().numClasses());
    }

    private void checkShape(PixelBatch batch) {
        ModelSpec spec = classifier.spec();
        if (batch.channels() != spec.channels() || batch.height() != spec.height()
                || batch.width() != spec.imageWidth()) {
            throw new InvalidInputException("expected images [N, " + spec.channels() + ", " + spec.height() + ", "
                    + spec.imageWidth() + "], got [" + batch.size() + ", " + batch.channels() + ", "
                    + batch.height() + ", " + batch.width() + "]");
        }
    }

    private static DetectorSummary summarize(DetectorCalibration cal, String weightsSha256) {
        List<DetectorSummary.ClassCalibration> classes = new ArrayList<>();
        for (ClassStatistics s : cal.classes()) {
            classes.add(new DetectorSummary.ClassCalibration(s.classIndex(), s.criticalLayer(),
                    Arrays.stream(s.candidates()).boxed().toList(), Arrays.stream(s.weights()).boxed().toList(),
                    s.mean(), s.std(), s.threshold(), s.localisationSamples(), s.referenceSamples()));
        }
        return new DetectorSummary(DetectorCalibration.METHOD, cal.weightMode().id(), cal.scoreRule().id(),
                cal.rule().kind().id(), cal.rule().tau(), cal.rule().targetFpr(), cal.taps(), classes, weightsSha256);
    }

    /** The model's manager (weights and detector centroids): for leak tests that cap it. */
    NDManager manager() {
        return classifier.manager();
    }

    @Override
    public void close() {
        classifier.close();
    }
}
