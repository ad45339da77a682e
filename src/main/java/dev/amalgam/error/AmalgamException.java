package dev.amalgam.error;

/**
 * The one exception Amalgam throws for anything a user can act on: a kind, a message, where
 * the fault is, and a hint. Part of the error stage; the CLI renders it and maps the kind to an
 * exit code, library callers catch it.
 */
public final class AmalgamException extends RuntimeException {

    /** What went wrong, which also decides the exit code. */
    public enum Kind {
        /** The recipe is malformed or asks for something impossible. */
        RECIPE(2),
        /** An input model or option is wrong. */
        INPUT(2),
        /** A tensor the plan needs is not in a model. */
        MISSING_TENSOR(2),
        /** Shapes do not agree. */
        SHAPE(2),
        /** The arithmetic produced something unusable (NaN, Inf). */
        NUMERIC(3),
        /** Reading or writing failed. */
        IO(3),
        /** A bug in Amalgam. */
        INTERNAL(4);

        private final int exitCode;

        Kind(int exitCode) {
            this.exitCode = exitCode;
        }

        public int exitCode() {
            return exitCode;
        }
    }

    private final Kind kind;
    private final Where where;
    private final String hint;
    private final java.util.List<AmalgamException> more;

    public AmalgamException(Kind kind, String message, Where where, String hint) {
        this(kind, message, where, hint, null);
    }

    public AmalgamException(Kind kind, String message, Where where, String hint, Throwable cause) {
        this(kind, message, where, hint, cause, java.util.List.of());
    }

    private AmalgamException(Kind kind, String message, Where where, String hint, Throwable cause,
                             java.util.List<AmalgamException> more) {
        super(message, cause);
        this.kind = kind;
        this.where = where == null ? Where.NONE : where;
        this.hint = hint;
        this.more = java.util.List.copyOf(more);
    }

    /** This problem together with others found in the same check, reported at once. */
    public AmalgamException withMore(java.util.List<AmalgamException> others) {
        return new AmalgamException(kind, getMessage(), where, hint, getCause(), others);
    }

    /** The other problems reported with this one. */
    public java.util.List<AmalgamException> more() {
        return more;
    }

    public static AmalgamException recipe(String message, Where where, String hint) {
        return new AmalgamException(Kind.RECIPE, message, where, hint);
    }

    public static AmalgamException input(String message, Where where, String hint) {
        return new AmalgamException(Kind.INPUT, message, where, hint);
    }

    public static AmalgamException io(String message, Where where, String hint, Throwable cause) {
        return new AmalgamException(Kind.IO, message, where, hint, cause);
    }

    public static AmalgamException internal(String message, Throwable cause) {
        return new AmalgamException(Kind.INTERNAL, message, Where.NONE,
                "this is a bug in Amalgam; please report it with --stacktrace output", cause);
    }

    public Kind kind() {
        return kind;
    }

    public Where where() {
        return where;
    }

    public String hint() {
        return hint;
    }

    public int exitCode() {
        return kind.exitCode();
    }

    /**
     * The user-facing text:
     * <pre>
     * error: unknown merge method 'dare-ties'
     *   at recipe.yml:7:15 (merge_method)
     *   hint: did you mean 'dare_ties'?
     * </pre>
     */
    public String render() {
        StringBuilder sb = new StringBuilder("error: ").append(getMessage());
        if (!where.isEmpty()) {
            sb.append("\n  at ").append(where);
        }
        if (hint != null && !hint.isBlank()) {
            sb.append("\n  hint: ").append(hint);
        }
        for (AmalgamException m : more) {
            sb.append('\n').append(m.render());
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return render();
    }
}
