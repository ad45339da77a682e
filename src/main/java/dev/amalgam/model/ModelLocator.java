package dev.amalgam.model;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Turns a model path from a recipe into a local directory. Model stage. A path that exists
 * locally is used as it is — a relative one resolves against the working directory, as
 * mergekit does, and falls back to the recipe's own directory. Otherwise an {@code org/name}
 * (optionally {@code @revision}) is looked up, offline, in the Hugging Face cache
 * ({@code HF_HUB_CACHE}, else {@code HF_HOME/hub}, else {@code ~/.cache/huggingface/hub}):
 * {@code models--org--name/snapshots/<commit>}, with a branch or tag resolved through
 * {@code refs/<revision>} and {@code main} as the default.
 */
public final class ModelLocator {

    private static final Pattern HUB_ID = Pattern.compile("[A-Za-z0-9][\\w.-]*(/[\\w.-]+)?");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

    private final Path workDir;
    private final Path recipeDir;
    private final Path hubCache;

    /**
     * @param workDir   the working directory
     * @param recipeDir the directory of the recipe file, or null
     */
    public ModelLocator(Path workDir, Path recipeDir) {
        this(workDir, recipeDir, hubCache(System.getenv()));
    }

    /** As above, with an explicit Hugging Face cache directory. */
    public ModelLocator(Path workDir, Path recipeDir, Path hubCache) {
        this.workDir = workDir.toAbsolutePath().normalize();
        this.recipeDir = recipeDir == null ? null : recipeDir.toAbsolutePath().normalize();
        this.hubCache = hubCache;
    }

    /** The Hugging Face hub cache directory the environment selects. */
    public static Path hubCache(Map<String, String> env) {
        String cache = env.get("HF_HUB_CACHE");
        if (cache != null && !cache.isBlank()) {
            return Path.of(cache);
        }
        String home = env.get("HF_HOME");
        if (home != null && !home.isBlank()) {
            return Path.of(home, "hub");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "huggingface", "hub");
    }

    /** The directory for {@code path} (no revision), or an error listing where it looked. */
    public Path locate(String path, Where where) {
        return locate(path, null, where);
    }

    /** The directory for {@code path} at {@code revision} (null: the default branch). */
    public Path locate(String path, String revision, Where where) {
        Path p = Path.of(path.startsWith("~/") ? System.getProperty("user.home") + path.substring(1) : path);
        if (p.isAbsolute()) {
            if (Files.isDirectory(p)) {
                return p.normalize();
            }
            throw notFound(path, where, p.toString());
        }
        Path inWork = workDir.resolve(p).normalize();
        if (Files.isDirectory(inWork)) {
            return inWork;
        }
        Path inRecipe = recipeDir == null ? null : recipeDir.resolve(p).normalize();
        if (inRecipe != null && Files.isDirectory(inRecipe)) {
            return inRecipe;
        }
        String looked = inRecipe == null || inRecipe.equals(inWork) ? inWork.toString() : inWork + " or " + inRecipe;
        if (!HUB_ID.matcher(path).matches()) {
            throw notFound(path, where, looked);
        }
        return fromHubCache(path, revision, where, looked);
    }

    private Path fromHubCache(String id, String revision, Where where, String looked) {
        Path repo = hubCache.resolve("models--" + id.replace("/", "--"));
        String rev = revision == null ? "main" : revision;
        String download = "hf download " + id + (revision == null ? "" : " --revision " + revision);
        if (!Files.isDirectory(repo)) {
            throw AmalgamException.input("model '" + id + "' is neither a local directory (looked in " + looked
                    + ") nor in the Hugging Face cache (" + hubCache + ")", where,
                    "download it first: " + download + " (or set HF_HUB_CACHE / HF_HOME)");
        }
        String commit = rev;
        Path ref = repo.resolve("refs").resolve(rev);
        if (!COMMIT.matcher(rev).matches()) {
            if (!Files.isRegularFile(ref)) {
                throw AmalgamException.input("revision '" + rev + "' of '" + id + "' is not in the Hugging Face "
                        + "cache (no " + ref + ")", where, "download it first: " + download);
            }
            try {
                commit = Files.readString(ref, StandardCharsets.UTF_8).strip();
            } catch (IOException e) {
                throw AmalgamException.io("cannot read " + ref + ": " + e.getMessage(), where, null, e);
            }
        }
        Path snapshot = repo.resolve("snapshots").resolve(commit);
        if (!Files.isDirectory(snapshot)) {
            throw AmalgamException.input("the cache lists '" + id + "' at " + rev + " (commit " + commit
                    + ") but its snapshot is missing", where, "download it again: " + download);
        }
        return snapshot;
    }

    private static AmalgamException notFound(String path, Where where, String looked) {
        return AmalgamException.input("model '" + path + "' not found (looked in " + looked + ")", where,
                "give a local model directory; relative paths resolve against the working directory, "
                        + "then the recipe's directory");
    }
}
