package dev.backdoorguard.server.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The swap and reference-count rules, with engine-free guards that record what happened to them. */
class ModelRepositoryTest {
    @TempDir
    Path repo;

    @Test
    void aVersionDirectoryGivenAsTheBundleIsServedUnderItsModelsName() throws IOException {
        Path version = Files.createDirectories(repo.resolve("fashion-mnist/1"));
        Path plain = Files.createDirectories(repo.resolve("my-model"));
        ModelLoader loader = RecordingGuard::new;
        try (ModelRepository one = ModelRepository.ofBundle(version, null, loader, RepositoryListener.none());
                ModelRepository two = ModelRepository.ofBundle(plain, null, loader, RepositoryListener.none());
                ModelRepository named = ModelRepository.ofBundle(version, "fm", loader, RepositoryListener.none())) {
            for (ModelRepository r : List.of(one, two, named)) {
                r.loadAll();
            }
            assertThat(one.knownNames()).containsExactly("fashion-mnist");
            assertThat(two.knownNames()).containsExactly("my-model");
            assertThat(named.knownNames()).containsExactly("fm");
        }
    }

    @Test
    void anOldVersionClosesOnlyAfterItsLastRequestReleasesIt() throws IOException {
        Files.createDirectories(repo.resolve("m/1"));
        List<RecordingGuard> loaded = new ArrayList<>();
        ModelLoader loader = dir -> {
            if (dir.getFileName().toString().equals("3")) {
                throw new IOException("broken bundle");
            }
            RecordingGuard g = new RecordingGuard(dir);
            loaded.add(g);
            return g;
        };
        try (ModelRepository models = ModelRepository.ofDirectory(repo, loader, RepositoryListener.none())) {
            models.loadAll();
            RecordingGuard v1 = loaded.get(0);
            assertThat(v1.predictions).as("warmed up before going live").isEqualTo(1);

            ServedModel held = models.acquire("m", "");
            Files.createDirectories(repo.resolve("m/2"));
            models.load("m");
            assertThat(models.find("m", "").version()).isEqualTo("2");
            assertThat(v1.closes).as("still held by a request").isZero();
            held.release();
            assertThat(v1.closes).isEqualTo(1);

            Files.createDirectories(repo.resolve("m/3"));
            assertThatThrownBy(() -> models.load("m")).isInstanceOf(ModelLoadException.class)
                    .hasMessageContaining("version 3").hasMessageContaining("broken bundle");
            assertThat(models.find("m", "").version()).isEqualTo("2");
            assertThat(models.index(false)).singleElement().satisfies(e -> {
                assertThat(e.state()).isEqualTo("READY");
                assertThat(e.reason()).contains("broken bundle");
            });

            models.unload("m");
            assertThat(loaded.get(1).closes).isEqualTo(1);
            assertThatThrownBy(() -> models.acquire("m", "")).isInstanceOf(ModelUnavailableException.class);
            assertThatThrownBy(() -> models.load("../m")).hasMessageContaining("model name");
        }
        assertThat(loaded).allSatisfy(g -> assertThat(g.closes).isEqualTo(1));
    }

    @Test
    void aModelUnloadedOnPurposeNoLongerCountsForReadinessButAFailedLoadDoes() throws IOException {
        Files.createDirectories(repo.resolve("a/1"));
        Files.createDirectories(repo.resolve("b/1"));
        ModelLoader loader = dir -> {
            if (dir.getParent().getFileName().toString().equals("b") && Files.exists(dir.resolve("broken"))) {
                throw new IOException("broken bundle");
            }
            return new RecordingGuard(dir);
        };
        try (ModelRepository models = ModelRepository.ofDirectory(repo, loader, RepositoryListener.none())) {
            models.loadAll();
            assertThat(models.allReady()).isTrue();

            models.unload("b");
            assertThat(models.isReady("b")).isFalse();
            assertThat(models.allReady()).as("b was unloaded on purpose").isTrue();

            Files.createFile(repo.resolve("b/1/broken"));
            assertThatThrownBy(() -> models.load("b")).isInstanceOf(ModelLoadException.class);
            assertThat(models.allReady()).as("b was asked for and failed to load").isFalse();

            Files.delete(repo.resolve("b/1/broken"));
            models.load("b");
            assertThat(models.allReady()).isTrue();

            models.unload("a");
            models.unload("b");
            assertThat(models.allReady()).as("every model unloaded on purpose, as Triton").isTrue();
        }
        try (ModelRepository nothingLoaded = ModelRepository.ofDirectory(repo, loader, RepositoryListener.none())) {
            assertThat(nothingLoaded.allReady()).as("no model known yet").isFalse();
        }
    }

    @Test
    void aModelServedWithoutADetectorIsLoggedAsAWarningThatItsGuardIsOff() throws IOException {
        Path bundle = Files.createDirectories(repo.resolve("p1"));
        // slf4j-simple writes to whatever System.err is at the time of the call.
        PrintStream stderr = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try (ModelRepository models = ModelRepository.ofBundle(bundle, null, RecordingGuard::new,
                RepositoryListener.none())) {
            models.loadAll();
        } finally {
            System.setErr(stderr);
        }
        assertThat(captured.toString(StandardCharsets.UTF_8))
                .contains("WARN")
                .contains("model p1 version 1 is ready (no detector: the guard is off for it)");
    }
}
