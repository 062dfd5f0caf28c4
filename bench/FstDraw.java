// Writes what `guard purify fst --seed S` draws at random before tuning, so that bench/torch_fst.py can
// start from exactly the same point (--clean-indices, --head-init) and a comparison of the two tools
// isolates their shuffling and augmentation streams: the clean indices (one training-split index per
// line, the draw of --clean-fraction F) and the re-initialised head (weight row-major, then bias, one
// value per line). Usage (after mvn package):
//   java -Dai.djl.offline=true -cp 'offline/target/guard-offline.jar:offline/target/lib/*' \
//       bench/FstDraw.java SEED MODEL_DIR OUT_DIR [CLEAN_FRACTION=0.02] [DATA_DIR]
// The number of classes and the head's input size come from MODEL_DIR/model.json, as in the tool.
// Writes OUT_DIR/clean-indices.txt and OUT_DIR/head-init.txt.
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.data.Datasets;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.data.Subsets;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.purify.fst.FstPurifier;
import java.nio.file.Files;
import java.nio.file.Path;

public class FstDraw {
    public static void main(String[] a) throws Exception {
        if (a.length < 3) {
            System.err.println("usage: FstDraw SEED MODEL_DIR OUT_DIR [CLEAN_FRACTION] [DATA_DIR]");
            System.exit(2);
        }
        long seed = Long.parseLong(a[0]);
        ModelSpec spec = Classifier.readSpec(Path.of(a[1]));
        int d = Architectures.standard().forSpec(spec).headInputs().apply(spec);
        int classes = spec.numClasses();
        Path out = Files.createDirectories(Path.of(a[2]));
        double fraction = a.length > 3 ? Double.parseDouble(a[3]) : 0.02;
        Path dataDir = Datasets.resolveDirectory(a.length > 4 ? Path.of(a[4]) : null, System.getenv());
        ImageDataset train = Datasets.load(dataDir, Datasets.Split.TRAIN, classes);
        int perClass = Subsets.perClassFor(fraction, train.size(), classes);
        StringBuilder indices = new StringBuilder();
        for (int i : Subsets.classBalanced(train.labels(), classes, perClass, seed).selected()) {
            indices.append(i).append('\n');
        }
        Files.writeString(out.resolve("clean-indices.txt"), indices);
        FstPurifier.HeadInit head = FstPurifier.initialHead(seed, classes, d);
        StringBuilder values = new StringBuilder();
        for (float[] part : new float[][] {head.weight(), head.bias()}) {
            for (float v : part) {
                values.append(v).append('\n');
            }
        }
        Files.writeString(out.resolve("head-init.txt"), values);
        System.out.printf("seed %d: %d clean indices (%d per class), head %d x %d + bias -> %s%n", seed,
                perClass * classes, perClass, classes, d, out);
    }
}
