package dev.amalgam.output;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.stream.Stream;

/**
 * The output directory of a merge, made atomically. Output stage. Everything is written into a
 * hidden sibling {@code .NAME.amalgam-partial}, locked against a second merge into the same
 * place; only {@link #commit()} moves it to the final name, so no half-written model ever looks
 * complete. An existing non-empty output is never touched unless overwriting was asked for.
 */
public final class OutputDirectory implements AutoCloseable {

    private static final String LOCK = ".amalgam.lock";

    private final Path target;
    private final Path partial;
    private final boolean overwrite;
    private final boolean resume;
    private boolean resumed;
    private boolean staleRemoved;
    private FileChannel lockChannel;
    private FileLock lock;
    private boolean done;

    private OutputDirectory(Path target, Path partial, boolean overwrite, boolean resume) {
        this.target = target;
        this.partial = partial;
        this.overwrite = overwrite;
        this.resume = resume;
    }

    /** Checks the target and creates the locked partial directory. */
    public static OutputDirectory begin(Path out, boolean overwrite) {
        return begin(out, overwrite, false);
    }

    /**
     * Checks the target and creates the locked partial directory; with {@code resume}, the partial
     * directory an interrupted run left is kept (see {@link #resumed()}).
     */
    public static OutputDirectory begin(Path out, boolean overwrite, boolean resume) {
        Path target = out.toAbsolutePath().normalize();
        checkTarget(target, overwrite);
        Path name = target.getFileName();
        if (name == null) {
            throw AmalgamException.input("the output cannot be the root directory", Where.file(out), null);
        }
        Path partial = target.resolveSibling("." + name + ".amalgam-partial");
        OutputDirectory d = new OutputDirectory(target, partial, overwrite, resume);
        d.acquire();
        return d;
    }

    /** Refuses a target that exists and is not an empty directory, unless overwriting. */
    public static void checkTarget(Path target, boolean overwrite) {
        if (!Files.exists(target)) {
            return;
        }
        if (!Files.isDirectory(target)) {
            throw AmalgamException.input("the output path exists and is not a directory: " + target,
                    Where.file(target), "choose another output path");
        }
        if (!overwrite && !isEmpty(target)) {
            throw AmalgamException.input("the output directory exists and is not empty: " + target,
                    Where.file(target), "choose another output path, or pass --overwrite to replace it");
        }
    }

    private void acquire() {
        try {
            Files.createDirectories(partial.getParent());
            if (Files.isDirectory(partial)) {
                Path lockFile = partial.resolve(LOCK);
                if (Files.exists(lockFile)) {
                    try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.WRITE)) {
                        FileLock l = ch.tryLock();
                        if (l == null) {
                            throw busy();
                        }
                        l.release();
                    } catch (OverlappingFileLockException e) {
                        throw busy();
                    }
                }
                if (resume) {
                    resumed = true;
                } else {
                    staleRemoved = true;
                    deleteRecursively(partial);
                }
            }
            if (!resumed) {
                Files.createDirectory(partial);
            }
            lockChannel = FileChannel.open(partial.resolve(LOCK), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
            lock = lockChannel.tryLock();
            if (lock == null) {
                throw busy();
            }
        } catch (IOException e) {
            throw AmalgamException.io("cannot create the output directory " + partial + ": " + e.getMessage(),
                    Where.file(partial), "check that the parent directory is writable", e);
        } catch (OverlappingFileLockException e) {
            throw busy();
        }
    }

    private AmalgamException busy() {
        return AmalgamException.input("another merge is writing into " + target + " right now",
                Where.file(partial), "wait for it to finish, or choose another output path");
    }

    /** True when an interrupted run's partial directory was kept to be finished. */
    public boolean resumed() {
        return resumed;
    }

    /** True when an interrupted run's partial directory was found and removed (no resume asked). */
    public boolean staleRemoved() {
        return staleRemoved;
    }

    /** Removes the kept partial directory's contents and starts it afresh (a resume that cannot be used). */
    public void restart() {
        try {
            try (Stream<Path> s = Files.list(partial)) {
                for (Path p : s.toList()) {
                    if (!p.getFileName().toString().equals(LOCK)) {
                        deleteRecursively(p);
                    }
                }
            }
            resumed = false;
        } catch (IOException e) {
            throw AmalgamException.io("cannot clear " + partial + ": " + e.getMessage(), Where.file(partial),
                    "remove it by hand", e);
        }
    }

    /** Where files are written until {@link #commit()}. */
    public Path partial() {
        return partial;
    }

    /** The final location. */
    public Path target() {
        return target;
    }

    /** Flushes the directory and moves it into place. */
    public void commit() {
        try {
            releaseLock();
            Files.deleteIfExists(partial.resolve(LOCK));
            fsyncDirectory(partial);
            Path old = null;
            if (Files.exists(target)) {
                checkTarget(target, overwrite);
                old = target.resolveSibling("." + target.getFileName() + ".amalgam-old");
                deleteRecursively(old);
                Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
            }
            try {
                Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(partial, target);
            }
            fsyncDirectory(target.getParent());
            done = true;
            if (old != null) {
                deleteRecursively(old);
            }
        } catch (DirectoryNotEmptyException e) {
            throw AmalgamException.input("the output directory appeared while merging and is not empty: " + target,
                    Where.file(target), "the merged model is kept in " + partial + "; move it by hand");
        } catch (IOException e) {
            throw AmalgamException.io("cannot move the finished model into place: " + e.getMessage(),
                    Where.file(target), "the merged model is kept in " + partial, e);
        }
    }

    /** Removes the partial directory unless committed. */
    @Override
    public void close() {
        releaseLock();
        if (!done) {
            try {
                deleteRecursively(partial);
            } catch (IOException e) {
                // the partial directory is hidden and never looks complete; leaving it is safe
            }
        }
    }

    private void releaseLock() {
        try {
            if (lock != null && lock.isValid()) {
                lock.release();
            }
            if (lockChannel != null) {
                lockChannel.close();
            }
        } catch (IOException e) {
            // releasing a lock on a file we are about to delete cannot lose data
        }
    }

    private static boolean isEmpty(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            throw AmalgamException.io("cannot list " + dir + ": " + e.getMessage(), Where.file(dir), null, e);
        }
    }

    static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // some file systems do not allow fsync on directories; the data files are already forced
        }
    }

    static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                try {
                    Files.delete(d);
                } catch (NoSuchFileException e) {
                    return FileVisitResult.CONTINUE;
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
