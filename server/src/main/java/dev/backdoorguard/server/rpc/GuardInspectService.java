package dev.backdoorguard.server.rpc;

import dev.backdoorguard.core.guard.DetectorSummary;
import dev.backdoorguard.core.guard.Inspection;
import dev.backdoorguard.core.guard.PixelBatch;
import dev.backdoorguard.proto.inference.InferTensorContents;
import dev.backdoorguard.proto.v1.ClassCalibration;
import dev.backdoorguard.proto.v1.DetectorInfoRequest;
import dev.backdoorguard.proto.v1.DetectorInfoResponse;
import dev.backdoorguard.proto.v1.GuardGrpc;
import dev.backdoorguard.proto.v1.InspectRequest;
import dev.backdoorguard.proto.v1.InspectResponse;
import dev.backdoorguard.proto.v1.LayerScore;
import dev.backdoorguard.server.repository.ModelRepository;
import dev.backdoorguard.server.repository.ServedModel;
import io.grpc.stub.StreamObserver;
import java.util.Optional;

/** The {@code guard.v1.Guard} service: the detector's view of one image, and its calibration summary. */
public final class GuardInspectService extends GuardGrpc.GuardImplBase {
    private final ModelRepository models;

    public GuardInspectService(ModelRepository models) {
        this.models = models;
    }

    @Override
    public void inspect(InspectRequest request, StreamObserver<InspectResponse> responses) {
        InferenceService.answer(responses, () -> {
            ServedModel model = models.acquire(request.getModelName(), request.getModelVersion());
            try {
                if (!model.guard().hasDetector()) {
                    throw new DetectorMissingException("model '" + model.name() + "' version " + model.version()
                            + " has no calibrated detector (no detector.json in its bundle)");
                }
                PixelBatch image = Messages.decodePixels(request.getDatatype(), request.getShapeList(),
                        request.getData(), InferTensorContents.getDefaultInstance(), model.guard().spec(), 1,
                        "request", "data");
                Inspection in = model.guard().inspect(image);
                InspectResponse.Builder b = InspectResponse.newBuilder().setModelName(model.name())
                        .setModelVersion(model.version()).setLabel(in.label()).setCriticalLayer(in.criticalTap())
                        .setScore(in.score()).setThreshold(in.threshold()).setMargin(in.margin())
                        .setFlagged(in.flagged());
                for (Inspection.LayerScore layer : in.layers()) {
                    b.addLayers(LayerScore.newBuilder().setTap(layer.tap()).setCosine(layer.cosine())
                            .setWeight(layer.weight()));
                }
                return b.build();
            } finally {
                model.release();
            }
        });
    }

    @Override
    public void detectorInfo(DetectorInfoRequest request, StreamObserver<DetectorInfoResponse> responses) {
        InferenceService.answer(responses, () -> {
            ServedModel model = models.find(request.getModelName(), request.getModelVersion());
            DetectorInfoResponse.Builder b = DetectorInfoResponse.newBuilder().setModelName(model.name())
                    .setModelVersion(model.version());
            Optional<DetectorSummary> summary = model.guard().detector();
            if (summary.isEmpty()) {
                return b.setPresent(false).build();
            }
            DetectorSummary d = summary.get();
            b.setPresent(true).setMethod(d.method()).setWeightMode(d.weightMode()).setScore(d.score())
                    .setThresholdRule(d.thresholdRule())
                    .setTau(d.tau()).setTargetFpr(d.targetFpr()).addAllTaps(d.taps())
                    .setWeightsSha256(d.weightsSha256());
            for (DetectorSummary.ClassCalibration c : d.classes()) {
                b.addClasses(ClassCalibration.newBuilder().setClassIndex(c.classIndex())
                        .setCriticalLayer(c.criticalLayer()).addAllCandidateLayers(c.candidateLayers())
                        .addAllWeights(c.weights()).setMean(c.mean()).setStd(c.std()).setThreshold(c.threshold())
                        .setLocalisationSamples(c.localisationSamples()).setReferenceSamples(c.referenceSamples()));
            }
            return b.build();
        });
    }
}
