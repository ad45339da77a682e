package dev.amalgam.recipe;

import dev.amalgam.error.Where;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A parsed merge recipe: mergekit's {@code MergeConfiguration}, read exactly as mergekit reads
 * it, with the location of every value. The entry point of the recipe stage
 * ({@code Recipe.parse(path)} then {@code Planner.plan(recipe, options)}).
 *
 * <p>Exactly one of {@code models}, {@code slices} and {@code modules} is non-null (empty lists
 * count as absent, as in mergekit). Where-components are null when their value is absent.
 *
 * @param file         the file read, or null when parsed from a string
 * @param sourceText   the recipe text verbatim, comments included (it goes into the model card)
 * @param dtype        canonical {@code float16 | bfloat16 | float32 | int64}, or null
 * @param outDtype     canonical like {@code dtype}, or null
 * @param tokenizer    from {@code tokenizer_source} (legacy) or the {@code tokenizer:} block, or null
 * @param warnings     unknown and duplicate keys, and other things mergekit accepts silently
 */
public record Recipe(Path file, String sourceText, String mergeMethod, Where mergeMethodWhere,
                     List<InputModel> models, List<OutputSlice> slices, Map<String, OutputModule> modules,
                     ModelRef baseModel, Where baseModelWhere, ParameterSet parameters,
                     String dtype, Where dtypeWhere, String outDtype, Where outDtypeWhere,
                     TokenizerSpec tokenizer, String chatTemplate, Where chatTemplateWhere,
                     List<RecipeWarning> warnings) {

    public Recipe {
        Objects.requireNonNull(mergeMethod, "mergeMethod");
        models = models == null ? null : List.copyOf(models);
        slices = slices == null ? null : List.copyOf(slices);
        modules = modules == null ? null : Collections.unmodifiableMap(new LinkedHashMap<>(modules));
        parameters = parameters == null ? ParameterSet.EMPTY : parameters;
        warnings = warnings == null ? List.of() : List.copyOf(warnings);
    }

    /** Reads and parses a UTF-8 recipe file; errors name the file. */
    public static Recipe parse(Path file) {
        return RecipeParser.parseOne(RecipeDocuments.read(file), file.toString(), file);
    }

    /** Parses recipe text; {@code fileName} (may be null) is only used in locations. */
    public static Recipe parse(String text, String fileName) {
        return RecipeParser.parseOne(Objects.requireNonNull(text, "text"), fileName, null);
    }

    /**
     * Parses a mergekit-multi file: one recipe per {@code ---} document, in order, each with the
     * text of its own document as {@code sourceText}.
     */
    public static List<RecipeDocument> parseAll(Path file) {
        return RecipeParser.parseAll(RecipeDocuments.read(file), file.toString(), file);
    }

    /** Like {@link #parseAll(Path)}, from text. */
    public static List<RecipeDocument> parseAll(String text, String fileName) {
        return RecipeParser.parseAll(Objects.requireNonNull(text, "text"), fileName, null);
    }

    /**
     * Every model the merge reads, in order of first appearance: {@code base_model}, then the
     * models of {@code models}, {@code slices} or {@code modules} in file order (a slice's own
     * {@code base_model} before its sources), each once. Tokenizer sources are not included.
     */
    public List<ModelRef> referencedModels() {
        Set<ModelRef> refs = new LinkedHashSet<>();
        add(refs, baseModel);
        addModels(refs, models);
        addSlices(refs, slices);
        if (modules != null) {
            for (OutputModule m : modules.values()) {
                addSlices(refs, m.slices());
                addModels(refs, m.models());
            }
        }
        return List.copyOf(new ArrayList<>(refs));
    }

    private static void addModels(Set<ModelRef> refs, List<InputModel> models) {
        if (models != null) {
            models.forEach(m -> add(refs, m.model()));
        }
    }

    private static void addSlices(Set<ModelRef> refs, List<OutputSlice> slices) {
        if (slices != null) {
            for (OutputSlice s : slices) {
                add(refs, s.baseModel());
                s.sources().forEach(src -> add(refs, src.model()));
            }
        }
    }

    private static void add(Set<ModelRef> refs, ModelRef ref) {
        if (ref != null) {
            refs.add(ref);
        }
    }
}
