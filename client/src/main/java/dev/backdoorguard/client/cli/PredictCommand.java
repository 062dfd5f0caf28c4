package dev.backdoorguard.client.cli;

import dev.backdoorguard.client.ClientConfig;
import dev.backdoorguard.client.GuardClient;
import dev.backdoorguard.client.GuardClientException;
import dev.backdoorguard.client.GuardMode;
import dev.backdoorguard.client.InputBatch;
import dev.backdoorguard.client.InvalidRequestException;
import dev.backdoorguard.client.ItemResult;
import dev.backdoorguard.client.PredictRequest;
import dev.backdoorguard.client.Prediction;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code guard predict}: classify image files with a served model, one line (or one JSON object) per run. */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = {"Classify PNG/JPEG images with a served model and show the guard's verdict.",
            "Prints one line per image: file, label, probability, guard score and the guard's verdict:",
            "  FLAGGED    the detector flagged the image (with --mode block the request is refused instead)",
            "  ok         the detector scored the image and passed it",
            "  unguarded  the detector did not run (the model is served without one, or --mode off):",
            "             score n/a, and --mode block lets the image through unchecked",
            "An image the server refuses (undecodable, wrong size) is named on stderr and the others are still classified.",
            "Exit codes: 0 ok, 1 server or connection error (incl. blocked by --mode block), 2 bad input "
                    + "(incl. any refused image)."})
final class PredictCommand implements Callable<Integer> {
    /** guard serve's refusal of a request over its --max-items: "65 items exceed the server's limit of 64 ...". */
    private static final Pattern ITEM_LIMIT = Pattern.compile("exceed the server's limit of (\\d+) per request");

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ConnectionOptions connection;

    @Option(names = "--model", required = true, description = "Served model name.")
    String model;

    @Option(names = "--model-version", defaultValue = "", description = "Model version (default: the server's choice).")
    String version;

    @Option(names = "--mode", converter = ModeConverter.class, paramLabel = "off|flag|block",
            description = "Guard mode for these requests (default: the server's).")
    GuardMode mode;

    @Option(names = "--labels", defaultValue = "", paramLabel = "NAMES",
            description = "Class names: fashion-mnist, a comma-separated list, or @file (one per line). "
                    + "The protocol's ModelMetadata carries none; default: class indices.")
    String labels;

    @Option(names = "--batch", defaultValue = "16",
            description = "Images per request (default: ${DEFAULT-VALUE}). More than the server takes (guard serve"
                    + " --max-items) is an error naming its limit, before any image is classified; --batch is not"
                    + " lowered to it.")
    int batch;

    @Option(names = "--retries", defaultValue = "2",
            description = "Retries when the server is UNAVAILABLE, 0..4 (default: ${DEFAULT-VALUE}).")
    int retries;

    @Option(names = "--json", description = "Print one JSON object instead of lines.")
    boolean json;

    @Parameters(arity = "1..*", paramLabel = "IMAGE|DIR", description = "PNG/JPEG files, or directories of them.")
    List<Path> inputs;

    @Override
    public Integer call() throws IOException {
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        }
        if (retries < 0 || retries > 4) {
            throw new IllegalArgumentException("--retries must be in 0..4 (gRPC allows 5 attempts), got " + retries);
        }
        List<Path> files = expand(inputs);
        List<String> names = ClassNames.parse(labels);
        ClientConfig config = connection.config(retries + 1);
        PrintWriter out = spec.commandLine().getOut();
        int width = files.stream().mapToInt(file -> file.toString().length()).max().orElse(0);
        try (GuardClient client = GuardClient.connect(config)) {
            if (!names.isEmpty()) {
                ClassNames.checkCount(names, client.modelMetadata(model).numClasses());
            }
            Run run = new Run(client, names, out, width);
            for (int from = 0; from < files.size(); from += batch) {
                run.classify(files.subList(from, Math.min(files.size(), from + batch)));
            }
            if (json) {
                Map<String, Object> report = new LinkedHashMap<>();
                report.put("model", model);
                report.put("mode", mode == null ? "server-default" : mode.wireName());
                report.put("detector", run.detector);
                report.put("images", run.rows);
                report.put("flagged", run.flagged);
                report.put("refused", run.refused);
                out.println(Json.write(report));
            }
            if (!run.refused.isEmpty()) {
                PrintWriter err = spec.commandLine().getErr();
                if (run.refused.size() == files.size()) {
                    err.println("guard predict: " + (files.size() == 1 ? "the image was refused"
                            : "all " + files.size() + " images were refused") + " (see above); none was classified");
                } else {
                    err.printf("guard predict: %d of %d images refused (see above); the others were classified%n",
                            run.refused.size(), files.size());
                }
                err.flush();
                return ClientErrors.BAD_INPUT;
            }
        }
        return 0;
    }

    /** One predict run: what it printed or collected so far. */
    private final class Run {
        private final GuardClient client;
        private final List<String> names;
        private final PrintWriter out;
        private final int width;
        final List<Map<String, Object>> rows = new ArrayList<>();
        final List<Map<String, Object>> refused = new ArrayList<>();
        String detector = "";
        long flagged;

        Run(GuardClient client, List<String> names, PrintWriter out, int width) {
            this.client = client;
            this.names = names;
            this.out = out;
            this.width = width;
        }

        /**
         * Classifies one request's files. A file the server cannot take (undecodable, wrong size: the message names
         * the item) or this client cannot read fails the whole request; the request is then sent again file by
         * file, so that one bad image costs only its own line and the others are still classified. Other failures
         * (a refusal of the request as a whole, server down, unknown model, a block-mode refusal) end the run.
         */
        void classify(List<Path> chunk) {
            Prediction prediction;
            try {
                prediction = client.predict(new PredictRequest(model, version, InputBatch.files(chunk), mode, names));
            } catch (InvalidRequestException e) {
                if (e.namedItems().isEmpty()) {
                    throw inTermsOfBatch(e); // the request as a whole: resending won't help
                }
                refuseOrSplit(chunk, e.getMessage().replace(" item 0:", ":"));
                return;
            } catch (GuardClientException e) {
                throw new GuardClientException(e.code(), withFileNames(e.getMessage(), chunk), e);
            } catch (UncheckedIOException e) {
                refuseOrSplit(chunk, e.getMessage()); // "cannot read image FILE: ..."
                return;
            }
            detector = prediction.detector();
            flagged += prediction.flaggedCount();
            for (ItemResult item : prediction.items()) {
                Path file = chunk.get(item.index());
                if (json) {
                    rows.add(row(file, item, prediction.action()));
                } else {
                    out.println(line(file, item, width));
                }
            }
            out.flush();
        }

        /** {@code reason}: for a single file, why it was refused (the server's words, or the read error). */
        private void refuseOrSplit(List<Path> chunk, String reason) {
            if (chunk.size() > 1) {
                chunk.forEach(file -> classify(List.of(file)));
                return;
            }
            Path file = chunk.get(0);
            String named = reason.contains(file.toString()) ? reason : file + ": " + reason;
            PrintWriter err = spec.commandLine().getErr();
            err.println("guard predict: " + named);
            err.flush();
            Map<String, Object> refusal = new LinkedHashMap<>();
            refusal.put("file", file.toString());
            refusal.put("error", reason);
            refused.add(refusal);
        }
    }

    /**
     * A refusal of the request's size in this command's terms, since it can come only from --batch (a first
     * request of min(files, --batch) images over the limit; later requests are no larger); other refusals as the
     * server words them. The server's limit is read from its message: no RPC reports it before a request.
     */
    private RuntimeException inTermsOfBatch(InvalidRequestException refusal) {
        Matcher limit = ITEM_LIMIT.matcher(refusal.getMessage());
        if (!limit.find()) {
            return refusal;
        }
        boolean given = spec.commandLine().getParseResult().hasMatchedOption("--batch");
        return new IllegalArgumentException("--batch " + batch + (given ? "" : " (the default)")
                + ": the server takes at most " + limit.group(1) + " images per request (guard serve --max-items);"
                + " use --batch " + limit.group(1) + " or less", refusal);
    }

    /**
     * The server names items by their index in the request ("contents item 1", "flagged items [3, 5]"); a user gave
     * files, so each index is followed by its file.
     */
    static String withFileNames(String message, List<Path> chunk) {
        Matcher m = GuardClientException.NAMED_ITEMS.matcher(message);
        StringBuilder named = new StringBuilder();
        while (m.find()) {
            List<String> files = new ArrayList<>();
            for (int i : GuardClientException.indices(m)) {
                files.add(i < chunk.size() ? chunk.get(i).toString() : "?");
            }
            m.appendReplacement(named, Matcher.quoteReplacement(m.group() + " (" + String.join(", ", files) + ")"));
        }
        m.appendTail(named);
        return named.toString();
    }

    static String line(Path file, ItemResult item, int width) {
        String score = item.score().map(s -> String.format(Locale.ROOT, "%.4f", s)).orElse("n/a");
        return String.format(Locale.ROOT, "%-" + Math.max(1, width) + "s  %-12s  p=%.4f  score=%-8s  %s",
                file, item.labelText(), item.probability(), score, Verdict.of(item));
    }

    private static Map<String, Object> row(Path file, ItemResult item, String action) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("file", file.toString());
        row.put("label", item.label());
        row.put("label_name", item.labelName());
        row.put("probability", item.probability());
        row.put("guard_score", item.score().orElse(null));
        row.put("flagged", item.flagged());
        row.put("guard_action", action);
        return row;
    }

    /** Files as given, directories as their PNG/JPEG files in name order. */
    static List<Path> expand(List<Path> inputs) throws IOException {
        List<Path> files = new ArrayList<>();
        for (Path input : inputs) {
            if (Files.isDirectory(input)) {
                try (Stream<Path> listing = Files.list(input)) {
                    listing.filter(Files::isRegularFile).filter(PredictCommand::isImage).sorted().forEach(files::add);
                }
            } else if (Files.isRegularFile(input)) {
                files.add(input);
            } else {
                throw new NoSuchFileException(input + ": no such image file or directory");
            }
        }
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no PNG/JPEG images in " + inputs);
        }
        return files;
    }

    private static boolean isImage(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".png") || name.endsWith(".jpg") || name.endsWith(".jpeg");
    }
}
