package dev.amalgam.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.golden.Golden;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.PlanOptions;
import dev.amalgam.plan.Planner;
import dev.amalgam.recipe.Recipe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Reading, changing and writing tokenizers, with small handwritten tokenizer files. */
class HfTokenizerTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private static final String BPE = """
            {
              "version": "1.0",
              "added_tokens": [
                {"id": 5, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false,
                 "normalized": false, "special": true}
              ],
              "normalizer": null,
              "model": {
                "type": "BPE",
                "continuing_subword_prefix": null,
                "vocab": {"a": 0, "b": 1, "ab": 2, "c": 3, "abc": 4},
                "merges": %s
              }
            }
            """;

    private Path dir(String name, Map<String, String> files) throws IOException {
        Path d = Files.createDirectories(tmp.resolve(name));
        for (Map.Entry<String, String> f : files.entrySet()) {
            Files.writeString(d.resolve(f.getKey()), f.getValue());
        }
        return d;
    }

    @Test
    void bpeStripRemovesTokensAddedTokensAndMergesThatUseThem() throws IOException {
        for (String merges : List.of("[[\"a\", \"b\"], [\"ab\", \"c\"]]", "[\"a b\", \"ab c\"]")) {
            HfTokenizer t = HfTokenizer.read(dir("bpe" + merges.length(), Map.of("tokenizer.json",
                    BPE.formatted(merges))), "m");
            assertThat(t.size()).isEqualTo(6);
            assertThat(t.vocab()).containsExactly(Map.entry("a", 0), Map.entry("b", 1), Map.entry("ab", 2),
                    Map.entry("c", 3), Map.entry("abc", 4), Map.entry("<s>", 5));
            HfTokenizer s = t.copy();
            s.strip(4);
            assertThat(s.size()).isEqualTo(4);
            assertThat(s.id("abc")).isEqualTo(-1);
            assertThat(s.id("<s>")).isEqualTo(-1);
            assertThat(t.id("abc")).as("the original is untouched").isEqualTo(4);
            JsonNode json = s.toTokenizerJson();
            assertThat(json.at("/model/merges")).hasSize(1);
            assertThat(json.at("/model/merges/0").isArray()).isEqualTo(merges.startsWith("[["));
            assertThat(json.get("added_tokens")).isEmpty();
            Path out = dir("out" + merges.length(), Map.of("tokenizer.json",
                    dev.amalgam.io.PyJson.dumps(json, false)));
            assertThat(HfTokenizer.read(out, "o").vocab()).containsExactly(Map.entry("a", 0), Map.entry("b", 1),
                    Map.entry("ab", 2), Map.entry("c", 3));
        }
    }

    @Test
    void addFollowsTheTokenizersLibrary() throws IOException {
        HfTokenizer t = HfTokenizer.read(dir("bpe", Map.of("tokenizer.json", BPE.formatted("[]"))), "m").copy();
        assertThat(t.add(AddedToken.normal(-1, "<s>"))).as("an added token keeps its id and definition").isEqualTo(5);
        assertThat(t.addedToken("<s>").special()).isTrue();
        assertThat(t.changed()).isFalse();
        AddedToken special = new AddedToken(-1, "ab", false, false, false, false, true);
        assertThat(t.add(special)).as("a model token becomes an added token with its id").isEqualTo(2);
        assertThat(t.addedToken("ab")).isEqualTo(special.withId(2));
        assertThat(t.add(AddedToken.normal(-1, "new"))).as("a new token takes the next id").isEqualTo(6);
        assertThat(t.token(6)).isEqualTo("new");
        assertThat(t.changed()).isTrue();
    }

    @Test
    void unigramAndWordPieceVocabularies() throws IOException {
        HfTokenizer u = HfTokenizer.read(dir("uni", Map.of("tokenizer.json", """
                {"added_tokens": [], "model": {"type": "Unigram", "unk_id": 0,
                 "vocab": [["<unk>", 0.0], ["\u2581a", -1.5], ["b", -2.25]]}}""")), "u");
        assertThat(u.modelType()).isEqualTo("Unigram");
        assertThat(u.vocab()).containsExactly(Map.entry("<unk>", 0), Map.entry("\u2581a", 1), Map.entry("b", 2));
        HfTokenizer s = u.copy();
        s.strip(2);
        assertThat(s.toTokenizerJson().at("/model/vocab")).hasSize(2);
        HfTokenizer w = HfTokenizer.read(dir("wp", Map.of("tokenizer.json", """
                {"added_tokens": [{"id": 0, "content": "[PAD]", "special": true}],
                 "model": {"type": "WordPiece", "unk_token": "[UNK]", "max_input_chars_per_word": 100,
                 "vocab": {"[PAD]": 0, "[UNK]": 1, "hello": 2, "##s": 3}}}""")), "w");
        assertThat(w.size()).isEqualTo(4);
        assertThat(w.id("##s")).isEqualTo(3);
        assertThat(w.addedToken("[PAD]").normalized()).isFalse();
    }

    @Test
    void sentencePieceModelWithoutTokenizerJson() throws IOException {
        ByteArrayOutputStream proto = new ByteArrayOutputStream();
        for (String p : List.of("<unk>", "<s>", "</s>", "\u2581hello")) {
            ByteArrayOutputStream piece = new ByteArrayOutputStream();
            field(piece, 1, p.getBytes(StandardCharsets.UTF_8));
            piece.write(new byte[] {0x15, 0, 0, (byte) 0x80, (byte) 0xbf});   // score = -1.0f (fixed32)
            piece.write(new byte[] {0x18, 0x01});                               // type = 1 (varint)
            field(proto, 1, piece.toByteArray());
        }
        field(proto, 2, new byte[] {0x08, 0x01});                               // trainer_spec, skipped
        Path d = dir("sp", Map.of("tokenizer_config.json", """
                {"added_tokens_decoder": {"4": {"content": "<pad>", "special": true}}}"""));
        Files.write(d.resolve("tokenizer.model"), proto.toByteArray());
        HfTokenizer t = HfTokenizer.read(d, "sp");
        assertThat(t.hasTokenizerJson()).isFalse();
        assertThat(t.vocab()).containsExactly(Map.entry("<unk>", 0), Map.entry("<s>", 1), Map.entry("</s>", 2),
                Map.entry("\u2581hello", 3), Map.entry("<pad>", 4));
        Files.write(d.resolve("tokenizer.model"), new byte[] {0x0a, 0x7f, 0x01});
        assertThatThrownBy(() -> HfTokenizer.read(d, "sp")).isInstanceOf(AmalgamException.class)
                .hasMessageContaining("cannot parse tokenizer.model");
    }

    private static void field(ByteArrayOutputStream out, int number, byte[] payload) {
        out.write(number << 3 | 2);
        out.write(payload.length);
        out.writeBytes(payload);
    }

    @Test
    void malformedFilesNameThemselves() throws IOException {
        Path d = dir("bad", Map.of("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}}}"));
        assertThatThrownBy(() -> HfTokenizer.read(d, "m")).isInstanceOf(AmalgamException.class)
                .hasMessageContaining("cannot read tokenizer.json: the id of token 'a'")
                .extracting(e -> ((AmalgamException) e).where().file()).asString().endsWith("tokenizer.json");
        Files.writeString(d.resolve("tokenizer.json"), "{\"model\": {\"type\": \"Mystery\", \"vocab\": {}}}");
        assertThatThrownBy(() -> HfTokenizer.read(d, "m")).hasMessageContaining("unsupported tokenizer model type");
        Files.writeString(d.resolve("tokenizer.json"), "{\"model\": ");
        assertThatThrownBy(() -> HfTokenizer.read(d, "m")).hasMessageContaining("cannot parse tokenizer.json")
                .extracting(e -> ((AmalgamException) e).where().line()).isEqualTo(1);
    }

    /** What we write for a union vocabulary reads back with every token at its planned id and flags. */
    @Test
    void writtenTokenizersReadBack() throws IOException {
        for (String name : List.of("tokenizer-union", "tokenizer-block", "tokenizer-union-padded",
                "chat-template-chatml")) {
            Path recipe = Golden.root().resolve("recipe-" + name + ".yml");
            Files.copy(Golden.caseDir(name).resolve("config.yml"), recipe,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            try (Plan plan = Planner.plan(Recipe.parse(recipe), PlanOptions.defaults().withWorkDir(Golden.root()))) {
                TokenizerPlan tp = plan.tokenizer();
                Path out = Files.createDirectories(tmp.resolve(name));
                for (TokenizerFiles.OutFile f : TokenizerFiles.files(tp, plan.donorDir())) {
                    if (f.copyFrom() != null) {
                        Files.copy(f.copyFrom(), out.resolve(f.name()));
                    } else {
                        Files.writeString(out.resolve(f.name()), f.text());
                    }
                }
                HfTokenizer back = HfTokenizer.read(out, name);
                assertThat(back.vocab()).as(name).containsExactlyEntriesOf(tp.output().vocab());
                assertThat(back.addedTokens()).as(name).containsExactlyElementsOf(tp.output().addedTokens());
                assertThat(back.chatTemplate()).as(name)
                        .isEqualTo(tp.chatTemplate() != null ? tp.chatTemplate() : tp.output().chatTemplate());
                JsonNode dec = JSON.readTree(out.resolve("tokenizer_config.json").toFile()).get("added_tokens_decoder");
                for (AddedToken a : back.addedTokens()) {
                    assertThat(AddedToken.fromJson(dec.get(Integer.toString(a.id())), a.id())).isEqualTo(a);
                }
            }
        }
    }
}
