package dev.amalgam.recipe;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.recipe.RecipeDocuments.Document;
import dev.amalgam.recipe.RecipeDocuments.Kind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** Cutting a recipe file into documents: boundaries, kinds, names, and line numbers kept. */
class RecipeDocumentsTest {

    @Test
    void singleDocumentWithLeadingCommentsAndMarker() {
        List<Document> docs = RecipeDocuments.split("# my merge\n---\nmerge_method: linear\nmodels: [{model: a}]\n",
                "r.yml");
        assertThat(docs).hasSize(1);
        assertThat(docs.getFirst().line()).isEqualTo(2);
        assertThat(docs.getFirst().kind()).isEqualTo(Kind.MERGE);
        assertThat(docs.getFirst().keys()).containsOnlyKeys("merge_method", "models");
    }

    @Test
    void documentsKeepTheFileLineNumbers() {
        String text = "name: a\nmerge_method: linear\n---\nname: b\nmerge_method: dare-ties\n";
        List<Document> docs = RecipeDocuments.split(text, "r.yml");
        assertThat(docs).extracting(Document::number, Document::line, Document::name)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(1, 1, "a"),
                        org.assertj.core.groups.Tuple.tuple(2, 3, "b"));
        assertThat(docs.get(1).nameWhere()).isEqualTo(Where.at("r.yml", 4, 7, "name"));
        AmalgamException e = catchThrowableOfType(AmalgamException.class,
                () -> Recipe.parse(docs.get(1).text(), "r.yml"));
        assertThat(e.where().line()).isEqualTo(4);
        assertThat(docs.get(1).text().lines().count()).isEqualTo(5);
    }

    @Test
    void explicitEmptyDocumentsCountImplicitBlankOnesDoNot() {
        List<Document> docs = RecipeDocuments.split("merge_method: a\n---\n# nothing\n---\n--- ~\n...\n\n", null);
        assertThat(docs).extracting(Document::kind).containsExactly(Kind.MERGE, Kind.EMPTY, Kind.EMPTY, Kind.EMPTY);
    }

    @Test
    void contentAfterTheMarkerAndAfterAnEndMarker() {
        List<Document> docs = RecipeDocuments.split("--- {merge_method: a}\n...\nbase_model: b\nexperts: []\n", null);
        assertThat(docs).extracting(Document::kind, Document::line).containsExactly(
                org.assertj.core.groups.Tuple.tuple(Kind.MERGE, 1), org.assertj.core.groups.Tuple.tuple(Kind.MOE, 3));
    }

    @Test
    void moeNeedsExpertsOrGateModeAndNoMergeMethod() {
        assertThat(RecipeDocuments.split("gate_mode: random\n", null).getFirst().kind()).isEqualTo(Kind.MOE);
        assertThat(RecipeDocuments.split("merge_method: moe\nexperts: []\n", null).getFirst().kind())
                .isEqualTo(Kind.MERGE);
        assertThat(RecipeDocuments.split("models: [\n", null).getFirst().kind()).isEqualTo(Kind.MERGE);
    }

    @Test
    void windowsLineEndings() {
        List<Document> docs = RecipeDocuments.split("merge_method: a\r\n---\r\nmerge_method: b\r\n", null);
        assertThat(docs).hasSize(2);
        AmalgamException e = catchThrowableOfType(AmalgamException.class, () -> Recipe.parse(docs.get(1).text(), null));
        assertThat(e.where().line()).isEqualTo(3);
    }

    @Test
    void readRejectsInvalidUtf8(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("r.yml");
        Files.write(f, new byte[] {'a', ':', ' ', (byte) 0xC3, '\n'});
        AmalgamException e = catchThrowableOfType(AmalgamException.class, () -> RecipeDocuments.read(f));
        assertThat(e.kind()).isEqualTo(AmalgamException.Kind.RECIPE);
        AmalgamException missing = catchThrowableOfType(AmalgamException.class,
                () -> RecipeDocuments.read(tmp.resolve("none.yml")));
        assertThat(missing.kind()).isEqualTo(AmalgamException.Kind.IO);
    }
}
