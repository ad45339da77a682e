package dev.amalgam.synth;

import dev.amalgam.io.PyJson;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A minimal but loadable Hugging Face tokenizer for synthetic models: a WordLevel model over
 * {@code <unk>}=0, {@code <s>}=1, {@code </s>}=2 and then the words a, b, ..., z, aa, ab, ... up to
 * the vocabulary size, with a whitespace pre-tokenizer and a post-processor that prepends
 * {@code <s>}. Part of the synth tool; writes {@code tokenizer.json}, {@code tokenizer_config.json}
 * and {@code special_tokens_map.json}.
 */
final class Tokenizer {

    static final List<String> SPECIALS = List.of("<unk>", "<s>", "</s>");

    private Tokenizer() {
    }

    /** The k-th generated word (0-based): a..z, then aa..zz, then aaa..., bijective base 26. */
    static String word(int k) {
        StringBuilder sb = new StringBuilder();
        int n = k + 1;
        while (n > 0) {
            n--;
            sb.append((char) ('a' + n % 26));
            n /= 26;
        }
        return sb.reverse().toString();
    }

    static void write(Path dir, int vocab, int maxLength, List<Path> written) {
        Map<String, Object> vocabMap = new LinkedHashMap<>();
        for (int i = 0; i < vocab; i++) {
            vocabMap.put(i < SPECIALS.size() ? SPECIALS.get(i) : word(i - SPECIALS.size()), i);
        }
        List<Object> added = new ArrayList<>();
        for (int i = 0; i < SPECIALS.size(); i++) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("id", i);
            t.put("content", SPECIALS.get(i));
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
            added.add(t);
        }
        Map<String, Object> tok = new LinkedHashMap<>();
        tok.put("version", "1.0");
        tok.put("truncation", null);
        tok.put("padding", null);
        tok.put("added_tokens", added);
        tok.put("normalizer", null);
        tok.put("pre_tokenizer", Map.of("type", "Whitespace"));
        tok.put("post_processor", postProcessor());
        tok.put("decoder", null);
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "WordLevel");
        model.put("vocab", vocabMap);
        model.put("unk_token", "<unk>");
        tok.put("model", model);
        Synth.writeText(dir.resolve("tokenizer.json"), PyJson.dumps(tok, false), written);

        Map<String, Object> decoder = new LinkedHashMap<>();
        for (int i = 0; i < SPECIALS.size(); i++) {
            Map<String, Object> t = new TreeMap<>();
            t.put("content", SPECIALS.get(i));
            t.put("lstrip", false);
            t.put("normalized", false);
            t.put("rstrip", false);
            t.put("single_word", false);
            t.put("special", true);
            decoder.put(Integer.toString(i), t);
        }
        Map<String, Object> cfg = new TreeMap<>();
        cfg.put("added_tokens_decoder", decoder);
        cfg.put("bos_token", "<s>");
        cfg.put("clean_up_tokenization_spaces", false);
        cfg.put("eos_token", "</s>");
        cfg.put("model_max_length", maxLength);
        cfg.put("pad_token", null);
        cfg.put("tokenizer_class", "PreTrainedTokenizerFast");
        cfg.put("unk_token", "<unk>");
        Synth.writeText(dir.resolve("tokenizer_config.json"), PyJson.dumps(cfg, false) + "\n", written);

        Map<String, Object> special = new LinkedHashMap<>();
        special.put("bos_token", specialToken("<s>"));
        special.put("eos_token", specialToken("</s>"));
        special.put("unk_token", specialToken("<unk>"));
        Synth.writeText(dir.resolve("special_tokens_map.json"), PyJson.dumps(special, false) + "\n", written);
    }

    private static Map<String, Object> specialToken(String content) {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("content", content);
        t.put("lstrip", false);
        t.put("normalized", false);
        t.put("rstrip", false);
        t.put("single_word", false);
        return t;
    }

    private static Map<String, Object> postProcessor() {
        Map<String, Object> bos = Map.of("SpecialToken", orderedPair("id", "<s>", "type_id", 0));
        Map<String, Object> a = Map.of("Sequence", orderedPair("id", "A", "type_id", 0));
        Map<String, Object> bos1 = Map.of("SpecialToken", orderedPair("id", "<s>", "type_id", 1));
        Map<String, Object> b = Map.of("Sequence", orderedPair("id", "B", "type_id", 1));
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("id", "<s>");
        s.put("ids", List.of(1));
        s.put("tokens", List.of("<s>"));
        Map<String, Object> pp = new LinkedHashMap<>();
        pp.put("type", "TemplateProcessing");
        pp.put("single", List.of(bos, a));
        pp.put("pair", List.of(bos, a, bos1, b));
        pp.put("special_tokens", Map.of("<s>", s));
        return pp;
    }

    private static Map<String, Object> orderedPair(String k1, Object v1, String k2, Object v2) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(k1, v1);
        m.put(k2, v2);
        return m;
    }
}
