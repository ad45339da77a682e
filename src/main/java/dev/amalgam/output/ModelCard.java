package dev.amalgam.output;

import dev.amalgam.method.MergeMethod;
import dev.amalgam.model.Model;
import dev.amalgam.recipe.ModelRef;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The README.md model card. Output stage. It has the structure of mergekit's cards — the same
 * front-matter keys, title, headings, method link and configuration block — so that tools and
 * people who read those read ours; the wording is Amalgam's own. The model list is sorted by
 * path, so the card is the same on every run.
 */
public final class ModelCard {

    private static final Pattern HUB_ID = Pattern.compile("[A-Za-z0-9][\\w.-]*/[\\w.-]+");

    private ModelCard() {
    }

    /**
     * Renders the card.
     *
     * @param title      the output directory's name
     * @param method     the merge method
     * @param models     the input models and their opened directories
     * @param base       the base model, or null
     * @param recipeText the recipe exactly as given
     * @param seed       the random seed when the method draws random numbers, else null
     */
    public static String render(String title, MergeMethod method, Map<ModelRef, Model> models, ModelRef base,
                                String recipeText, Long seed) {
        List<String> hub = new ArrayList<>();
        for (Map.Entry<ModelRef, Model> e : models.entrySet()) {
            if (isHub(e.getKey(), e.getValue())) {
                hub.add(e.getKey().path());
            }
            if (isHubAdapter(e.getKey(), e.getValue()) && !hub.contains(e.getKey().loraPath())) {
                hub.add(e.getKey().loraPath());
            }
        }
        hub.sort(Comparator.naturalOrder());
        StringBuilder sb = new StringBuilder("---\n");
        if (hub.isEmpty()) {
            sb.append("base_model: []\n");
        } else {
            sb.append("base_model:\n");
            hub.forEach(h -> sb.append("- ").append(h).append('\n'));
        }
        sb.append("library_name: transformers\ntags:\n- mergekit\n- merge\n- amalgam\n\n---\n");
        sb.append("# ").append(title == null || title.isEmpty() ? "Untitled Model (1)" : title).append("\n\n");
        sb.append("This model is a merge of pre-trained language models. Amalgam produced it from the "
                + "mergekit-format recipe below.\n\n");
        sb.append("## Merge Details\n### Merge Method\n\n");
        sb.append("This model was merged using the ").append(methodText(method)).append(" merge method");
        boolean slerp = method.name().equals("slerp");
        if (base != null && !slerp) {
            sb.append(" using ").append(modelText(base, models.get(base))).append(" as a base");
        }
        sb.append(".\n\n");
        if (seed != null) {
            sb.append("The method draws random numbers; this merge used the seed ").append(seed)
                    .append(" (`--random-seed ").append(seed).append("` repeats it).\n\n");
        }
        sb.append("### Models Merged\n\nThe following models were included in the merge:\n");
        List<ModelRef> listed = new ArrayList<>();
        for (ModelRef r : models.keySet()) {
            if (slerp || !r.equals(base)) {
                listed.add(r);
            }
        }
        listed.sort(Comparator.comparing(ModelRef::toString));
        for (ModelRef r : listed) {
            sb.append("* ").append(modelText(r, models.get(r))).append('\n');
        }
        sb.append("\n### Configuration\n\nThe following YAML configuration was used to produce this model:\n\n");
        sb.append("```yaml\n").append(recipeText);
        if (!recipeText.endsWith("\n")) {
            sb.append('\n');
        }
        sb.append("\n```\n");
        return sb.toString();
    }

    private static String methodText(MergeMethod m) {
        return m.referenceUrl() == null ? m.prettyName() : "[" + m.prettyName() + "](" + m.referenceUrl() + ")";
    }

    private static String modelText(ModelRef ref, Model model) {
        String p = ref.path();
        String text = isHub(ref, model) ? "[" + p + "](https://huggingface.co/" + p + ")" : p;
        if (ref.hasLora()) {
            String l = ref.loraPath();
            text += " + " + (isHubAdapter(ref, model) ? "[" + l + "](https://huggingface.co/" + l + ")" : l);
        }
        return text;
    }

    /** A LoRA adapter is a Hub adapter when its path is an org/name id and it was found in the Hugging Face cache. */
    static boolean isHubAdapter(ModelRef ref, Model model) {
        return ref.hasLora() && HUB_ID.matcher(ref.loraPath()).matches() && model != null && model.adapterDir() != null
                && model.adapterDir().toString().contains("/snapshots/");
    }

    /** A model is a Hub model when its path is an org/name id and it was found in the Hugging Face cache. */
    static boolean isHub(ModelRef ref, Model model) {
        return HUB_ID.matcher(ref.path()).matches() && model != null
                && model.dir().toString().contains("/snapshots/");
    }
}
