package dev.amalgam.tokenizer;

import dev.amalgam.golden.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bad tokenizer input through the real CLI: each fails before any tensor is read, with the
 * recipe's line:column (or the file at fault) and a hint, and writes nothing.
 */
class TokenizerErrorsTest {

    @TempDir
    Path tmp;

    private static String model(String name) {
        return Golden.root().resolve("models").resolve(name).toString();
    }

    private Golden.Run merge(String recipe) throws IOException {
        Path file = tmp.resolve("recipe.yml");
        Files.writeString(file, recipe);
        return Golden.cli("merge", file.toString(), tmp.resolve("out").toString(), "--quiet");
    }

    private void assertNothingWritten() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(f -> !f.startsWith("model-")))
                    .containsExactly("recipe.yml");
        }
    }

    /** A linear merge of base and chatml with a {@code tokenizer:} block ending in {@code tokens}. */
    private static String block(String tokens) {
        return "merge_method: linear\nbase_model: " + model("base") + "\nmodels:\n"
                + "  - model: " + model("base") + "\n    parameters:\n      weight: 0.5\n"
                + "  - model: " + model("chatml") + "\n    parameters:\n      weight: 0.5\n"
                + "tokenizer:\n  source: union\n  tokens:\n" + tokens + "dtype: float16\n";
    }

    @Test
    void tokenSourceNamingAModelNotInTheRecipe() throws IOException {
        Golden.Run r = merge(block("    <|tool|>:\n      source: " + model("ft-a") + "\n"));
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("error: the source of token '<|tool|>' names " + model("ft-a")
                + ", which is not a model of this merge", "recipe.yml:14:7", "hint: name one of:");
        assertNothingWritten();
    }

    @Test
    void modelTokenNamingAModelNotInTheRecipe() throws IOException {
        Golden.Run r = merge(block("    <|tool|>:\n      source:\n        kind: model_token\n        model: "
                + model("ft-c") + "\n        token_id: 2\n"));
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("which is not a model of this merge", "recipe.yml:14:7");
        assertNothingWritten();
    }

    @Test
    void tokenIdOutOfRange() throws IOException {
        Golden.Run r = merge(block("    <|tool|>:\n      source:\n        kind: model_token\n        model: "
                + model("chatml") + "\n        token_id: 514\n"));
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("error: token_id 514 is out of range for " + model("chatml")
                + ", which has 514 embedding rows", "recipe.yml:14:7", "hint: use an id from 0 to 513");
        assertNothingWritten();
    }

    @Test
    void unknownTokenName() throws IOException {
        Golden.Run r = merge(block("    <|tool|>:\n      source:\n        kind: model_token\n        model: "
                + model("base") + "\n        token: \"<|nope|>\"\n"));
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("error: token '<|nope|>' is not in the vocabulary of " + model("base"),
                "recipe.yml:14:7", "hint: check the spelling");
        assertNothingWritten();
    }

    @Test
    void tokenSourceModelWithoutTheToken() throws IOException {
        Golden.Run r = merge(block("    <|im_end|>:\n      source: " + model("base") + "\n"));
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("error: token '<|im_end|>' is not in the vocabulary of " + model("base"),
                "recipe.yml:14:7");
        assertNothingWritten();
    }

    @Test
    void tokenizerFileThatDoesNotParse() throws IOException {
        Path bad = copyModel("chatml", tmp.resolve("model-bad"));
        Files.writeString(bad.resolve("tokenizer.json"), "{\n  \"model\": {\"type\": \"BPE\",\n    \"vocab\": {\"a\": 0,}\n");
        Golden.Run r = merge("merge_method: linear\nmodels:\n  - model: " + model("base")
                + "\n    parameters:\n      weight: 0.5\n  - model: " + bad + "\n    parameters:\n      weight: 0.5\n"
                + "tokenizer_source: union\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("error: cannot parse tokenizer.json", bad.resolve("tokenizer.json") + ":3:",
                "hint:");
        assertNothingWritten();
    }

    @Test
    void tokenizerConfigThatDoesNotParse() throws IOException {
        Path bad = copyModel("ft-a", tmp.resolve("model-bad"));
        Files.writeString(bad.resolve("tokenizer_config.json"), "[1, 2");
        Golden.Run r = merge("merge_method: linear\nmodels:\n  - model: " + bad
                + "\n    parameters:\n      weight: 0.5\n  - model: " + model("ft-c")
                + "\n    parameters:\n      weight: 0.5\nchat_template: chatml\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("error: cannot parse tokenizer_config.json",
                bad.resolve("tokenizer_config.json").toString());
        assertNothingWritten();
    }

    @Test
    void tokenizerSourceModelMissing() throws IOException {
        Golden.Run r = merge("merge_method: linear\nmodels:\n  - model: " + model("base")
                + "\n    parameters:\n      weight: 0.5\n  - model: " + model("ft-a")
                + "\n    parameters:\n      weight: 0.5\ntokenizer_source: " + tmp.resolve("no-such-model") + "\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("not found", "recipe.yml:9:19", "(tokenizer_source)", "hint:");
        assertNothingWritten();
    }

    @Test
    void tokenizerSourceModelWithoutTokenizer() throws IOException {
        Golden.Run r = merge("merge_method: linear\nmodels:\n  - model: " + model("base")
                + "\n    parameters:\n      weight: 0.5\n  - model: " + model("ft-a")
                + "\n    parameters:\n      weight: 0.5\ntokenizer_source: " + model("rand-x") + "\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("error: tokenizer_source " + model("rand-x") + " has no tokenizer",
                "recipe.yml:9:19", "hint: name a model directory that has tokenizer files");
        assertNothingWritten();
    }

    @Test
    void invalidChatTemplate() throws IOException {
        Golden.Run r = merge("merge_method: linear\nmodels:\n  - model: " + model("base")
                + "\n    parameters:\n      weight: 0.5\n  - model: " + model("ft-a")
                + "\n    parameters:\n      weight: 0.5\nchat_template: chatm\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("error: invalid chat_template 'chatm'", "recipe.yml:9:16",
                "hint: did you mean 'chatml'?");
        assertNothingWritten();
    }

    /** Without tokenizer options, the donor's 514-token tokenizer would index past 512 merged rows. */
    @Test
    void vocabularyLargerThanTheEmbeddingsIsRefused() throws IOException {
        Golden.Run r = merge("merge_method: linear\nbase_model: " + model("chatml") + "\nmodels:\n  - model: "
                + model("base") + "\n    parameters:\n      weight: 0.5\n  - model: " + model("chatml")
                + "\n    parameters:\n      weight: 0.5\n");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("has 514 tokens, but lm_head.weight has only 512 rows",
                "hint: the models' vocabularies differ: add 'tokenizer_source: union'");
        assertNothingWritten();
    }

    private static Path copyModel(String name, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(Golden.root().resolve("models").resolve(name))) {
            for (Path f : s.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        return to;
    }
}
