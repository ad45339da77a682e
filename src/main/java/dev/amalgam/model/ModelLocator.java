package dev.amalgam.model;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Turns a model path from a recipe into a local directory. Model stage. A relative path
 * resolves against the working directory, as mergekit does, and falls back to the recipe's own
 * directory; an absolute path is taken as it is.
 */
public final class ModelLocator {

    private final Path workDir;
    private final Path recipeDir;

    /**
     * @param workDir   the working directory
     * @param recipeDir the directory of the recipe file, or null
     */
    public ModelLocator(Path workDir, Path recipeDir) {
        this.workDir = workDir.toAbsolutePath().normalize();
        this.recipeDir = recipeDir == null ? null : recipeDir.toAbsolutePath().normalize();
    }

    /** The directory for {@code path}, or an error listing where it looked. */
    public Path locate(String path, Where where) {
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
        if (recipeDir != null) {
            Path inRecipe = recipeDir.resolve(p).normalize();
            if (Files.isDirectory(inRecipe)) {
                return inRecipe;
            }
            throw notFound(path, where, inRecipe.equals(inWork) ? inWork.toString() : inWork + " or " + inRecipe);
        }
        throw notFound(path, where, inWork.toString());
    }

    private static AmalgamException notFound(String path, Where where, String looked) {
        return AmalgamException.input("model '" + path + "' not found (looked in " + looked + ")", where,
                "give a local model directory; relative paths resolve against the working directory, "
                        + "then the recipe's directory");
    }
}
