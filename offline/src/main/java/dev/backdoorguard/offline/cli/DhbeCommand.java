package dev.backdoorguard.offline.cli;

import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.core.Seeds;
import dev.backdoorguard.offline.purify.PurificationData;
import dev.backdoorguard.offline.purify.dhbe.DhbeCheckpoints;
import dev.backdoorguard.offline.purify.dhbe.DhbeConfig;
import dev.backdoorguard.offline.purify.dhbe.DhbeProfile;
import dev.backdoorguard.offline.purify.dhbe.DhbePurifier;
import dev.backdoorguard.offline.purify.dhbe.Generators;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code guard purify dhbe}: data-free adversarial distillation with a patch adversary. */
@Command(
        name = "dhbe",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Data-free Holistic Backdoor Erasing (AsiaCCS 2023): no clean data. A student initialised from the model"
                    + " is distilled from the frozen model (L1 on logits) on images from an adversarial generator,"
                    + " while an adversarial patch generator makes it insensitive to any small additive patch at a"
                    + " random place (0.1-weighted L1 against its own clean logits). Per iteration: 5 student SGD steps,"
                    + " 1 Adam step per generator; learning rates x0.1 at 60%% and 80%% of the run.",
            "Sizes come from --profile (full: the reference, a GPU budget; cpu: the spec's scale-down sized to"
                    + " ~30 CPU minutes, see docs/BENCHMARKS.md section 7 for what it achieves); each can be set by"
                    + " its own option. The generator supports square inputs whose side is divisible by 4.",
            "Named deviations from the reference, off by default: --student-bn eval, --generator-warmup and"
                    + " --bn-prior. The reference collapses the student at CPU size; the setting measured to keep"
                    + " accuracy (a deviation, for patch triggers; blended ones survive it) is --profile cpu"
                    + " --lr-student 0.01 --generator-warmup 200 --bn-prior 1 (docs/BENCHMARKS.md section 7.2b).",
            ""
        })
public final class DhbeCommand implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Mixin PurificationRun run;

    @Option(names = "--profile", defaultValue = "full", paramLabel = "NAME",
            description = "Default sizes: full (15000 iterations, batch 256, ngf 64, nz 256, student lr 0.1) or cpu"
                    + " (1500 iterations, batch 64, ngf 16, nz 128, student lr 0.1: ~30 single-thread minutes for"
                    + " cnn-small, but alone it did not keep the clean accuracy in any measured run; with the"
                    + " --generator-warmup and --bn-prior deviations and --lr-student 0.01 it did,"
                    + " docs/BENCHMARKS.md section 7.2b)"
                    + " (default: ${DEFAULT-VALUE}).")
    String profile;

    @Option(names = "--iterations", paramLabel = "N",
            description = "Outer iterations, > 0 (default: 15000, cpu profile 1500).")
    Integer iterations;

    @Option(names = "--batch-size", paramLabel = "B",
            description = "Synthetic images per step, >= 2 (default: 256, cpu profile 64).")
    Integer batchSize;

    @Option(names = "--ngf", paramLabel = "N", description = "Generator width, both generators (default: 64, cpu profile 16).")
    Integer ngf;

    @Option(names = "--nz", paramLabel = "N", description = "Image generator noise size (default: 256, cpu profile 128).")
    Integer nz;

    @Option(names = "--nz2", paramLabel = "N", description = "Patch generator noise size (default: --nz).")
    Integer nz2;

    @Option(names = "--patch-size", defaultValue = "5", paramLabel = "P",
            description = "Side of the adversarial patch, <= the image side (default: ${DEFAULT-VALUE}).")
    int patchSize;

    @Option(names = "--lr-student", paramLabel = "LR",
            description = "Student SGD learning rate (momentum 0.9, weight decay 5e-4) (default: 0.1, also in the cpu profile).")
    Double lrStudent;

    @Option(names = "--lr-generator", defaultValue = "1e-3", paramLabel = "LR",
            description = "Image generator Adam learning rate (default: ${DEFAULT-VALUE}).")
    double lrGenerator;

    @Option(names = "--lr-patch", defaultValue = "1e-3", paramLabel = "LR",
            description = "Patch generator Adam learning rate (default: ${DEFAULT-VALUE}).")
    double lrPatch;

    @Option(names = "--loss-weight-patch", defaultValue = "0.1", paramLabel = "W",
            description = "Weight of the patch regulariser L1(S(x+p), sg(S(x))) (default: ${DEFAULT-VALUE}).")
    double lossWeightPatch;

    @Option(names = "--tv2", defaultValue = "1e-4", paramLabel = "W",
            description = "Weight of the generator's sum-type TV2 prior (default: ${DEFAULT-VALUE}).")
    double tv2;

    @Option(names = "--student-bn", defaultValue = "train", paramLabel = "MODE",
            description = "BatchNorm mode of the student during distillation: train (the reference: batch statistics,"
                    + " running statistics updated on synthetic batches) or eval, a DEVIATION from the reference that"
                    + " freezes the running statistics and normalises with them (weights still train): on CPU-sized"
                    + " runs the synthetic batches' statistics replaced the real ones and the student collapsed,"
                    + " docs/BENCHMARKS.md section 7 (default: ${DEFAULT-VALUE}).")
    String studentBn;

    @Option(names = "--generator-warmup", defaultValue = "0", paramLabel = "STEPS",
            description = "A DEVIATION from the reference (0 = off): before the first iteration, train the image"
                    + " generator alone for STEPS Adam steps to match the teacher's BatchNorm statistics (the"
                    + " DeepInversion prior, see --bn-prior) while maximising the entropy of the teacher's batch-mean"
                    + " prediction, so the student's first targets span the classes instead of the backdoor's one"
                    + " (with an untrained generator the backdoored teacher labels every image with its target class)."
                    + " Measured with --bn-prior 1 in docs/BENCHMARKS.md section 7.2b (default: ${DEFAULT-VALUE}).")
    int generatorWarmup;

    @Option(names = "--bn-prior", defaultValue = "0", paramLabel = "W",
            description = "A DEVIATION from the reference (0 = off): add W times the distance of the generator's"
                    + " images' BatchNorm input statistics from the teacher's running statistics (sum over BN layers"
                    + " of the L2 distances of the per-channel means and variances) to the image generator's loss in"
                    + " every iteration (default: ${DEFAULT-VALUE}).")
    double bnPrior;

    @Option(names = "--eval-every", defaultValue = "0", paramLabel = "N",
            description = "With --eval-trigger: measure ACC/ASR every N iterations on --eval-images test images, into"
                    + " report.json and " + DhbePurifier.CURVE_PNG + " (default: ${DEFAULT-VALUE} = only before and"
                    + " after).")
    int evalEvery;

    @Option(names = "--eval-images", defaultValue = "2000", paramLabel = "N",
            description = "Test images (a seeded subset) for the --eval-every evaluations; 0 = all. The before/after"
                    + " figures always use the whole test set (default: ${DEFAULT-VALUE}).")
    int evalImages;

    @Option(names = "--checkpoint-every", defaultValue = "0", paramLabel = "N",
            description = "Save the whole training state every N iterations, atomically (default: ${DEFAULT-VALUE} ="
                    + " never).")
    int checkpointEvery;

    @Option(names = "--checkpoint-dir", paramLabel = "DIR",
            description = "Checkpoint directory, new or empty or an earlier checkpoint (default: <out>.dhbe-checkpoint"
                    + " next to --out); kept after the run for --resume, safe to delete once --out is written.")
    Path checkpointDir;

    @Option(names = "--resume",
            description = "Continue from the checkpoint in --checkpoint-dir; with the same settings and seed the result"
                    + " equals the uninterrupted run's.")
    boolean resume;

    @Override
    public Integer call() throws Exception {
        DhbeProfile p = DhbeProfile.parse(profile);
        int z = nz != null ? nz : p.nz;
        DhbeConfig config = new DhbeConfig(iterations != null ? iterations : p.iterations,
                batchSize != null ? batchSize : p.batchSize, ngf != null ? ngf : p.ngf, z, nz2 != null ? nz2 : z,
                patchSize, lrStudent != null ? lrStudent : p.lrStudent, lrGenerator, lrPatch, lossWeightPatch, tv2,
                run.seed, DhbeConfig.StudentBn.parse(studentBn),
                new DhbeConfig.GeneratorPrior(generatorWarmup, bnPrior));
        if (evalEvery < 0 || evalImages < 0) {
            throw new IllegalArgumentException("--eval-every and --eval-images must be >= 0");
        }
        if (evalEvery > 0 && run.evalTrigger == null) {
            throw new IllegalArgumentException("--eval-every needs --eval-trigger");
        }
        Path dir = checkpointDir != null ? checkpointDir
                : run.output.out.toAbsolutePath().normalize().resolveSibling(run.output.out.getFileName()
                        + ".dhbe-checkpoint");
        DhbeCheckpoints checkpoints = new DhbeCheckpoints(dir, checkpointEvery, resume);
        run.checkBeforeWork();
        PurificationRun.checkApart("--checkpoint-dir", dir, "--model", run.model);
        PurificationRun.checkApart("--checkpoint-dir", dir, "--out", run.output.out);
        ModelSpec model = Classifier.readSpec(run.model);
        Generators.checkImageSize(model.height(), model.imageWidth());
        if (patchSize > model.height()) {
            throw new IllegalArgumentException("--patch-size " + patchSize + " is larger than the " + model.height() + "x"
                    + model.imageWidth() + " image");
        }
        checkpoints.checkResumable(config);
        DhbePurifier dhbe = new DhbePurifier(config, checkpoints, evalEvery > 0 ? run.lazyEvaluation(this::subset) : null, evalEvery,
                DhbeProgress.stderr());
        if (DhbeProfile.parse(profile) == DhbeProfile.FULL && iterations == null) {
            spec.commandLine().getErr().println("dhbe: note: --profile full is the reference's GPU budget (15,000"
                    + " iterations at batch 256: days on a CPU); --profile cpu is the documented CPU profile");
        }
        try {
            return run.execute(dhbe, PurificationData.none(), null, Map.of(), spec.commandLine().getOut());
        } catch (UncheckedIOException e) {
            throw e.getCause(); // a corrupt checkpoint is bad input (exit 2), not an internal error
        }
    }

    private ImageDataset subset(ImageDataset test) {
        if (evalImages == 0 || evalImages >= test.size()) {
            return test;
        }
        int[] order = new int[test.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        SplittableRandom random = new SplittableRandom(Seeds.derive(run.seed, "dhbe-eval-subset"));
        for (int i = order.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int[] picked = java.util.Arrays.copyOf(order, evalImages);
        java.util.Arrays.sort(picked);
        return test.subset(picked);
    }
}
