package dev.amalgam.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.amalgam.golden.Golden;
import dev.amalgam.io.DType;
import dev.amalgam.model.Architecture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The tokenizer golden cases: our output vocabulary, added tokens, chat template, config.json
 * and embedding rows (compared by token) against mergekit's.
 */
class TokenizerGoldenTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Tokens listed under {@code tokenizer.tokens} that already exist: mergekit drops their flags, we keep them. */
    private static final Map<String, Set<String>> RELISTED = Map.of(
            "tokenizer-block", Set.of("</s>", "<|im_start|>", "<|im_end|>"));

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"tokenizer-base", "tokenizer-union", "tokenizer-union-padded", "tokenizer-model",
            "tokenizer-block", "chat-template-auto", "chat-template-chatml"})
    void matchesMergekit(String name) throws IOException {
        Path out = tmp.resolve("out");
        Golden.Run run = Golden.merge(name, out);
        assertThat(run.exitCode()).as(run.err()).isZero();
        Path ref = Golden.caseDir(name).resolve("out");
        HfTokenizer ours = HfTokenizer.read(out, "ours");
        HfTokenizer theirs = HfTokenizer.read(ref, "mergekit");
        Map<String, Integer> a = ours.vocab();
        Map<String, Integer> b = theirs.vocab();
        assertThat(a.keySet()).as("tokens").isEqualTo(b.keySet());
        Set<String> unordered = name.equals("tokenizer-union") ? variantOnly() : Set.of();
        for (Map.Entry<String, Integer> e : b.entrySet()) {
            if (unordered.contains(e.getKey())) {
                assertThat(a.get(e.getKey())).as(e.getKey()).isBetween(512, 512 + unordered.size() - 1);
            } else {
                assertThat(a.get(e.getKey())).as("id of " + e.getKey()).isEqualTo(e.getValue());
            }
        }
        for (AddedToken t : theirs.addedTokens()) {
            AddedToken o = ours.addedToken(t.content());
            assertThat(o).as(t.content()).isNotNull();
            if (RELISTED.getOrDefault(name, Set.of()).contains(t.content())) {
                assertThat(o.special()).as(t.content() + " keeps its special flag").isTrue();
            } else {
                assertThat(o.sameDefinition(t)).as(t + " vs " + o).isTrue();
            }
        }
        assertThat(ours.addedTokens()).hasSameSizeAs(theirs.addedTokens());
        JsonNode cfg = JSON.readTree(out.resolve("config.json").toFile());
        JsonNode refCfg = JSON.readTree(ref.resolve("config.json").toFile());
        for (String key : List.of("vocab_size", "bos_token_id", "eos_token_id", "pad_token_id", "dtype")) {
            assertThat(value(cfg, key)).as(key).isEqualTo(value(refCfg, key));
        }
        String template = read(out.resolve("chat_template.jinja"));
        String refTemplate = read(ref.resolve("chat_template.jinja"));
        if (name.equals("chat-template-chatml")) {
            assertThat(template).contains("'<|im_start|>' + message['role'] + '\\n' + message['content']",
                    "'<|im_end|>\\n'", "add_generation_prompt", "'<|im_start|>assistant\\n'");
        } else {
            assertThat(template).isEqualTo(refTemplate);
        }
        if (template != null) {
            assertThat(ours.chatTemplate()).isEqualTo(template);
            assertThat(JSON.readTree(out.resolve("tokenizer_config.json").toFile()).path("chat_template").asText(null))
                    .isIn(null, template);
        }
        RowComparison c = compareByToken(out, ref, ours, theirs);
        System.out.println(name + ": " + c);
        assertThat(c.elements).isPositive();
        assertThat(c.problems).isEmpty();
        assertThat(c.bitEqualFraction()).as(c.toString()).isGreaterThanOrEqualTo(0.999);
    }

    @Test
    void unchangedTokenizersAreWrittenAsMergekitWritesThem() throws IOException {
        for (String name : List.of("tokenizer-base", "tokenizer-model", "tokenizer-union-padded",
                "chat-template-auto", "chat-template-chatml")) {
            Path out = tmp.resolve(name);
            assertThat(Golden.merge(name, out).exitCode()).isZero();
            assertThat(Files.readString(out.resolve("tokenizer.json"))).as(name)
                    .isEqualTo(Files.readString(Golden.caseDir(name).resolve("out/tokenizer.json")));
        }
    }

    @Test
    void unionIdsOfAddedTokens() throws IOException {
        Path out = tmp.resolve("out");
        assertThat(Golden.merge("tokenizer-union", out).exitCode()).isZero();
        HfTokenizer t = HfTokenizer.read(out, "ours");
        assertThat(t.id("<|im_start|>")).isEqualTo(690);
        assertThat(t.id("<|im_end|>")).isEqualTo(691);
        assertThat(t.addedToken("<|im_start|>").special()).isTrue();
        assertThat(t.size()).isEqualTo(692);
        HfTokenizer variant = HfTokenizer.read(Golden.root().resolve("models/variant"), "variant");
        int previous = -1;
        for (Map.Entry<String, Integer> e : variant.vocab().entrySet()) {
            if (variantOnly().contains(e.getKey())) {
                assertThat(t.id(e.getKey())).as("variant-only tokens follow variant's id order")
                        .isGreaterThan(previous);
                previous = t.id(e.getKey());
            }
        }
    }

    @Test
    void blockAddsNewTokensAndPads() throws IOException {
        Path out = tmp.resolve("out");
        assertThat(Golden.merge("tokenizer-block", out).exitCode()).isZero();
        HfTokenizer t = HfTokenizer.read(out, "ours");
        assertThat(t.id("<|tool|>")).isEqualTo(514);
        assertThat(t.addedToken("<|tool|>")).isEqualTo(AddedToken.normal(514, "<|tool|>"));
        assertThat(JSON.readTree(out.resolve("config.json").toFile()).get("vocab_size").asInt()).isEqualTo(576);
        JsonNode dec = JSON.readTree(out.resolve("tokenizer_config.json").toFile()).get("added_tokens_decoder");
        assertThat(dec.get("514").get("content").asText()).isEqualTo("<|tool|>");
    }

    /** A chat template alone re-writes only tokenizer_config.json and the template of the donor's files. */
    @Test
    void chatTemplateAloneKeepsTheDonorsOtherFiles() throws IOException {
        Path out = tmp.resolve("out");
        assertThat(Golden.merge("chat-template-chatml", out).exitCode()).isZero();
        Path donor = Golden.root().resolve("models/ft-a");
        for (String f : List.of("tokenizer.json", "special_tokens_map.json", "generation_config.json")) {
            assertThat(Files.readAllBytes(out.resolve(f))).as(f).isEqualTo(Files.readAllBytes(donor.resolve(f)));
        }
        JsonNode cfg = JSON.readTree(out.resolve("tokenizer_config.json").toFile());
        assertThat(cfg.get("chat_template").asText()).isEqualTo(ChatTemplates.builtIn("chatml"));
        assertThat(cfg.get("added_tokens_decoder")).isEqualTo(JSON.readTree(donor.resolve("tokenizer_config.json")
                .toFile()).get("added_tokens_decoder"));
    }

    /** A built tokenizer is part of the model: written even with --no-copy-tokenizer (as mergekit does). */
    @Test
    void builtTokenizerIsWrittenWithoutCopyTokenizer() throws IOException {
        Path out = tmp.resolve("out");
        Golden.Run run = Golden.merge("tokenizer-union", out, "--no-copy-tokenizer");
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(HfTokenizer.read(out, "ours").size()).isEqualTo(692);
        assertThat(out.resolve("generation_config.json")).doesNotExist();
        Path plain = tmp.resolve("plain");
        assertThat(Golden.merge("chat-template-chatml", plain, "--no-copy-tokenizer").exitCode()).isZero();
        assertThat(plain.resolve("tokenizer.json")).doesNotExist();
    }

    /** mergekit crashes on {@code source: {kind: zero}}; the right answer is an all-zero row. */
    @Test
    void zeroSourceGivesZeroRows() throws IOException {
        Path out = tmp.resolve("out");
        Golden.Run run = Golden.merge("tokenizer-block-zero", out);
        assertThat(run.exitCode()).as(run.err()).isZero();
        HfTokenizer t = HfTokenizer.read(out, "ours");
        int id = t.id("<|tool|>");
        assertThat(id).isEqualTo(514);
        Map<String, DType> dt = new LinkedHashMap<>();
        Map<String, float[]> tensors = Golden.load(out, dt);
        for (String n : List.of("model.embed_tokens.weight", "lm_head.weight")) {
            float[] m = tensors.get(n);
            int cols = 64;
            assertThat(m.length / cols).isEqualTo(515);
            for (int c = 0; c < cols; c++) {
                assertThat(m[id * cols + c]).as(n + " col " + c).isZero();
            }
            assertThat(m[513 * cols]).isNotZero();
        }
    }

    /** The tokens of variant that neither base nor chatml has (their union ids are unordered in mergekit). */
    private static Set<String> variantOnly() {
        HfTokenizer base = HfTokenizer.read(Golden.root().resolve("models/base"), "base");
        HfTokenizer chatml = HfTokenizer.read(Golden.root().resolve("models/chatml"), "chatml");
        HfTokenizer variant = HfTokenizer.read(Golden.root().resolve("models/variant"), "variant");
        Set<String> out = new java.util.LinkedHashSet<>(variant.vocab().keySet());
        out.removeAll(base.vocab().keySet());
        out.removeAll(chatml.vocab().keySet());
        return out;
    }

    private static JsonNode value(JsonNode cfg, String key) {
        JsonNode v = cfg.get(key);
        return v == null || v.isNull() ? null : v;
    }

    private static String read(Path p) throws IOException {
        return Files.isRegularFile(p) ? Files.readString(p) : null;
    }

    /** Bitwise agreement of every tensor, vocabulary matrices compared row by row by token. */
    record RowComparison(long elements, long bitEqual, long withinOneUlp, List<String> problems) {

        double bitEqualFraction() {
            return (double) bitEqual / elements;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%d elements, %.4f%% bit-equal, %d more within one ulp, problems %s",
                    elements, 100 * bitEqualFraction(), withinOneUlp, problems);
        }
    }

    static RowComparison compareByToken(Path out, Path ref, HfTokenizer ours, HfTokenizer theirs)
            throws IOException {
        Map<String, DType> od = new LinkedHashMap<>();
        Map<String, DType> rd = new LinkedHashMap<>();
        Map<String, float[]> o = Golden.load(out, od);
        Map<String, float[]> r = Golden.load(ref, rd);
        List<String> problems = new java.util.ArrayList<>();
        if (!o.keySet().equals(r.keySet())) {
            problems.add("tensor names differ");
        }
        long n = 0;
        long eq = 0;
        long ulp = 0;
        for (Map.Entry<String, float[]> e : r.entrySet()) {
            float[] x = o.get(e.getKey());
            float[] y = e.getValue();
            if (x == null || x.length != y.length || od.get(e.getKey()) != rd.get(e.getKey())) {
                problems.add(e.getKey() + ": missing, size or dtype differs");
                continue;
            }
            DType dt = rd.get(e.getKey());
            int[] rowOf = null;
            int cols = 1;
            if (Architecture.isVocabMatrix(e.getKey())) {
                cols = 64;
                int rows = y.length / cols;
                rowOf = new int[rows];
                for (int i = 0; i < rows; i++) {
                    String tok = theirs.token(i);
                    rowOf[i] = tok == null ? i : ours.id(tok);
                }
            }
            for (int i = 0; i < y.length; i++) {
                int j = rowOf == null ? i : rowOf[i / cols] * cols + i % cols;
                n++;
                if (Float.floatToIntBits(x[j]) == Float.floatToIntBits(y[i])) {
                    eq++;
                } else if (Math.abs((double) x[j] - y[i]) <= Golden.ulpOf(dt, y[i])) {
                    ulp++;
                }
            }
        }
        return new RowComparison(n, eq, ulp, problems);
    }
}
