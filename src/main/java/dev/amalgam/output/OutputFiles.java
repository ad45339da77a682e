package dev.amalgam.output;

import com.fasterxml.jackson.databind.JsonNode;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.PyJson;
import dev.amalgam.io.SafetensorsIndex;
import dev.amalgam.plan.OutputTensor;
import dev.amalgam.plan.Plan;
import dev.amalgam.plan.Shard;
import dev.amalgam.tokenizer.TokenizerFiles;
import dev.amalgam.tokenizer.TokenizerPlan;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The files of an output model beside its tensors: the shard index, config.json, tokenizer
 * files, the model card and the recipe. Output stage; each is written and flushed into the
 * partial directory before it is moved into place.
 */
public final class OutputFiles {

    /** Files copied from the donor model when no tokenizer is built. */
    static final List<String> TOKENIZER_FILES = List.of(
            "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model",
            "added_tokens.json", "vocab.json", "merges.txt", "chat_template.jinja", "generation_config.json",
            "chat_template.json", "video_preprocessor_config.json");

    /** Amalgam's version, written into the shard index. */
    public static final String VERSION = "0.1.0";

    private OutputFiles() {
    }

    /**
     * Writes every non-tensor file into {@code dir}. A built tokenizer is always written; a donor
     * tokenizer re-written with a chat template, or copied verbatim, only with {@code copyTokenizer}.
     *
     * @return the names of the tokenizer files written or copied (empty when none)
     */
    public static List<String> write(Plan plan, Path dir, String title, boolean copyTokenizer,
                                     boolean writeModelCard) {
        if (plan.shards().size() > 1) {
            Map<String, String> weightMap = new LinkedHashMap<>();
            long total = 0;
            for (Shard s : plan.shards()) {
                for (OutputTensor t : s.tensors()) {
                    weightMap.put(t.name(), s.fileName());
                    total += t.byteSize();
                }
            }
            SafetensorsIndex.write(dir.resolve("model.safetensors.index.json"), total, weightMap,
                    Map.of("amalgam_version", VERSION));
        }
        writeText(dir.resolve("config.json"), toJson(PyJson.sortedKeys(plan.outputConfig())));
        List<String> copied = new ArrayList<>();
        TokenizerPlan tok = plan.tokenizer();
        if (tok != null && (tok.built() || copyTokenizer)) {
            for (TokenizerFiles.OutFile f : TokenizerFiles.files(tok, plan.donorDir())) {
                if (!copyTokenizer && f.name().equals("generation_config.json")) {
                    continue;
                }
                if (f.copyFrom() != null) {
                    copy(f.copyFrom(), dir.resolve(f.name()));
                } else {
                    writeText(dir.resolve(f.name()), f.text());
                }
                copied.add(f.name());
            }
        } else if (tok == null && copyTokenizer) {
            Path donor = plan.donorDir();
            boolean hasTokenizer = Files.isRegularFile(donor.resolve("tokenizer_config.json"))
                    && (Files.isRegularFile(donor.resolve("tokenizer.json"))
                    || Files.isRegularFile(donor.resolve("tokenizer.model")));
            if (hasTokenizer) {
                for (String f : TOKENIZER_FILES) {
                    Path src = donor.resolve(f);
                    if (Files.isRegularFile(src)) {
                        copy(src, dir.resolve(f));
                        copied.add(f);
                    }
                }
            }
        }
        if (writeModelCard) {
            writeText(dir.resolve("mergekit_config.yml"), plan.recipe().sourceText());
            writeText(dir.resolve("README.md"), ModelCard.render(title, plan.method(), plan.models(),
                    plan.baseModel(), plan.recipe().sourceText(), plan.usesRandomness() ? plan.seed() : null));
        }
        return copied;
    }

    /** config.json as transformers writes it: keys sorted, two-space indent, Python's number format. */
    static String toJson(JsonNode node) {
        return PyJson.dumps(node, true) + "\n";
    }

    static void writeText(Path p, String text) {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
            ch.force(true);
        } catch (IOException e) {
            throw AmalgamException.io("cannot write " + p.getFileName() + ": " + e.getMessage(), Where.file(p),
                    "check free disk space and permissions", e);
        }
    }

    private static void copy(Path src, Path dst) {
        try {
            Files.copy(src, dst);
            try (FileChannel ch = FileChannel.open(dst, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
        } catch (IOException e) {
            throw AmalgamException.io("cannot copy " + src.getFileName() + ": " + e.getMessage(), Where.file(src),
                    "check free disk space and permissions", e);
        }
    }
}
