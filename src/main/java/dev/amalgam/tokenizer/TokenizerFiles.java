package dev.amalgam.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.amalgam.io.PyJson;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The tokenizer files of an output directory for a {@link TokenizerPlan}: what to write and what
 * to copy. Tokenizer stage; the output stage does the writing.
 *
 * <ul>
 *   <li>{@code tokenizer.json}: copied when the vocabulary is the source tokenizer's, else written
 *       with the stripped model vocabulary (BPE merges that use a removed token dropped) and the
 *       output's added tokens, in the layout the tokenizers library writes;</li>
 *   <li>{@code tokenizer_config.json}: the source's, keys sorted as transformers writes them, with
 *       {@code added_tokens_decoder} and the special-token lists brought up to date when the
 *       vocabulary changed, and {@code chat_template} set when the recipe sets one;</li>
 *   <li>{@code chat_template.jinja} (where transformers 5 reads the template) whenever the output
 *       has a template, {@code special_tokens_map.json} when the source has one;</li>
 *   <li>{@code tokenizer.model}, {@code added_tokens.json}, {@code vocab.json}, {@code merges.txt}:
 *       copied only when the vocabulary is unchanged (they would disagree with it otherwise);</li>
 *   <li>{@code generation_config.json} of the config donor, copied, or with its token ids mapped
 *       to a built vocabulary.</li>
 * </ul>
 */
public final class TokenizerFiles {

    /** One output file: {@code text} to write, or a file to copy. */
    public record OutFile(String name, String text, Path copyFrom) {
    }

    private static final List<String> SIDECARS = List.of(HfTokenizer.SP_MODEL, HfTokenizer.ADDED_JSON,
            HfTokenizer.VOCAB_JSON, HfTokenizer.MERGES_TXT);
    private static final List<String> SPECIAL_LISTS = List.of("additional_special_tokens", "extra_special_tokens");

    private TokenizerFiles() {
    }

    /**
     * The files for {@code plan}.
     *
     * @param donorDir the directory config.json comes from (for generation_config.json)
     */
    public static List<OutFile> files(TokenizerPlan plan, Path donorDir) {
        HfTokenizer t = plan.output();
        Path src = t.dir();
        boolean changed = t.changed();
        List<OutFile> out = new ArrayList<>();
        if (t.hasTokenizerJson()) {
            out.add(changed ? new OutFile(HfTokenizer.TOKENIZER_JSON, PyJson.dumps(t.toTokenizerJson(), false), null)
                    : new OutFile(HfTokenizer.TOKENIZER_JSON, null, src.resolve(HfTokenizer.TOKENIZER_JSON)));
        }
        if (!changed) {
            for (String f : SIDECARS) {
                if (Files.isRegularFile(src.resolve(f))) {
                    out.add(new OutFile(f, null, src.resolve(f)));
                }
            }
        }
        ObjectNode cfg = t.config() == null ? JsonNodeFactory.instance.objectNode() : t.config().deepCopy();
        if (changed) {
            ObjectNode dec = JsonNodeFactory.instance.objectNode();
            t.addedTokens().forEach(a -> dec.set(Integer.toString(a.id()), a.toDecoderJson()));
            cfg.set("added_tokens_decoder", dec);
            keepPresent(cfg, t);
        }
        if (plan.chatTemplate() != null) {
            cfg.put("chat_template", plan.chatTemplate());
        }
        out.add(new OutFile(HfTokenizer.CONFIG, json(cfg), null));
        if (t.specialMap() != null && changed) {
            ObjectNode sm = t.specialMap().deepCopy();
            keepPresent(sm, t);
            out.add(new OutFile(HfTokenizer.SPECIAL_MAP, json(sm), null));
        } else if (t.specialMap() != null) {
            out.add(new OutFile(HfTokenizer.SPECIAL_MAP, null, src.resolve(HfTokenizer.SPECIAL_MAP)));
        }
        String template = plan.chatTemplate() != null ? plan.chatTemplate() : t.chatTemplate();
        if (template != null) {
            out.add(new OutFile(HfTokenizer.TEMPLATE, template, null));
        }
        Path gen = donorDir.resolve("generation_config.json");
        if (Files.isRegularFile(gen) && !plan.built()) {
            out.add(new OutFile("generation_config.json", null, gen));
        } else if (Files.isRegularFile(gen)) {
            ObjectNode g = HfTokenizer.readObject(gen, true);
            plan.updateConfig(g, false, new ArrayList<>());
            out.add(new OutFile("generation_config.json", PyJson.dumps(g, true) + "\n", null));
        }
        return out;
    }

    /** Drops entries of the special-token lists that are not in the output vocabulary. */
    private static void keepPresent(ObjectNode node, HfTokenizer t) {
        for (String key : SPECIAL_LISTS) {
            if (node.get(key) instanceof ArrayNode list) {
                ArrayNode kept = JsonNodeFactory.instance.arrayNode();
                for (JsonNode e : list) {
                    String content = e.isTextual() ? e.asText() : e.path("content").asText(null);
                    if (content == null || t.id(content) >= 0) {
                        kept.add(e);
                    }
                }
                node.set(key, kept);
            }
        }
    }

    /** JSON as transformers writes its tokenizer files: keys sorted, two-space indent, UTF-8 kept. */
    static String json(JsonNode node) {
        return PyJson.dumps(PyJson.sortedKeys(node), false) + "\n";
    }

}
