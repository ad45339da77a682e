package dev.amalgam.output;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.amalgam.error.AmalgamException;
import dev.amalgam.kernel.Codec;
import dev.amalgam.model.Architecture;
import dev.amalgam.model.Configs;
import dev.amalgam.model.Model;
import dev.amalgam.model.TensorHandle;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Checks a model directory as a loader would find it: every safetensors header valid, the index
 * covering every tensor exactly once with every shard present, config.json consistent with the
 * tensors (layer count, vocabulary, tied embeddings), the tokenizer consistent with the
 * vocabulary, no half-written leftovers — and optionally every value finite. Output stage; the
 * {@code verify} command reports what it finds.
 */
public final class Verifier {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One finding; {@code error} false for a warning. */
    public record Finding(boolean error, String message) {
    }

    private Verifier() {
    }

    /**
     * Verifies {@code dir}.
     *
     * @param scanValues also read every value and report NaN or Inf per tensor
     */
    public static List<Finding> verify(Path dir, boolean scanValues) {
        List<Finding> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir.toAbsolutePath().getParent())) {
            String partial = "." + dir.getFileName() + ".amalgam-partial";
            if (s.anyMatch(p -> p.getFileName().toString().equals(partial))) {
                out.add(new Finding(false, "a partial merge into this directory was left behind (" + partial
                        + "); it is not part of the model"));
            }
        } catch (IOException | RuntimeException e) {
            // the parent cannot be listed: nothing to report about leftovers
        }
        Model model;
        try {
            model = Model.open(dir, dir.toString());
        } catch (AmalgamException e) {
            out.add(new Finding(true, e.getMessage() + (e.where().isEmpty() ? "" : " (" + e.where() + ")")));
            return out;
        }
        try (model) {
            checkShards(dir, model, out);
            checkConfig(model, out);
            checkTokenizer(dir, model, out);
            checkJournal(dir, model, out);
            if (scanValues) {
                scan(model, out);
            }
        }
        return out;
    }

    private static void checkShards(Path dir, Model model, List<Finding> out) {
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(index) && Files.isRegularFile(dir.resolve("model.safetensors"))) {
            out.add(new Finding(true, "both model.safetensors and model.safetensors.index.json exist; loaders "
                    + "pick one and ignore the other"));
        }
        if (Files.isRegularFile(index)) {
            try {
                JsonNode total = JSON.readTree(index.toFile()).at("/metadata/total_size");
                if (!total.isMissingNode() && total.asLong() != model.dataBytes()) {
                    out.add(new Finding(false, String.format(Locale.ROOT,
                            "the index says total_size %d, the tensors hold %d bytes", total.asLong(),
                            model.dataBytes())));
                }
            } catch (IOException e) {
                out.add(new Finding(true, "the index does not parse: " + e.getMessage()));
            }
            try (Stream<Path> files = Files.list(dir)) {
                List<String> listed = model.shards().stream().map(f -> f.path().getFileName().toString()).toList();
                files.map(p -> p.getFileName().toString())
                        .filter(f -> f.endsWith(".safetensors") && !listed.contains(f))
                        .forEach(f -> out.add(new Finding(false, f + " is not referenced by the index")));
            } catch (IOException e) {
                out.add(new Finding(true, "cannot list " + dir + ": " + e.getMessage()));
            }
        }
    }

    private static void checkConfig(Model model, List<Finding> out) {
        Architecture a = Architecture.infer(model);
        if (a.layerCountKey() != null && a.observedLayers() != a.numLayers()) {
            out.add(new Finding(true, String.format(Locale.ROOT, "config.json says %s = %d but the tensors have %d "
                    + "layers", a.layerCountKey(), a.numLayers(), a.observedLayers())));
        }
        for (int i = 0; i < a.observedLayers(); i++) {
            if (a.layerSuffixes(i).isEmpty()) {
                out.add(new Finding(true, "layer " + i + " has no tensors"));
            }
        }
        String embed = a.embeddingMatrix();
        JsonNode vocab = Configs.get(model.config(), "vocab_size");
        if (vocab == null) {
            vocab = Configs.get(model.config(), "text_config.vocab_size");
        }
        if (embed != null && vocab != null) {
            long rows = model.tensor(embed).info().shape()[0];
            if (rows != vocab.asLong()) {
                out.add(new Finding(true, String.format(Locale.ROOT,
                        "config.json says vocab_size %d but %s has %d rows", vocab.asLong(), embed, rows)));
            }
        }
        boolean head = model.tensors().keySet().stream().anyMatch(Architecture::isOutputHead);
        JsonNode tie = model.config().get("tie_word_embeddings");
        if (!head && embed != null && tie != null && !tie.asBoolean(true)) {
            out.add(new Finding(true, "config.json says tie_word_embeddings false but there is no lm_head tensor"));
        }
        if (head && tie != null && tie.asBoolean(false)) {
            out.add(new Finding(false, "config.json ties embeddings, so loaders ignore the lm_head tensor"));
        }
    }

    private static void checkTokenizer(Path dir, Model model, List<Finding> out) {
        Path tok = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tok)) {
            if (!Files.isRegularFile(dir.resolve("tokenizer.model"))) {
                out.add(new Finding(false, "no tokenizer files (tokenizer.json or tokenizer.model)"));
            }
            return;
        }
        try {
            JsonNode t = JSON.readTree(tok.toFile());
            long max = -1;
            for (JsonNode id : iterable(t.at("/model/vocab"))) {
                max = Math.max(max, id.asLong());
            }
            for (JsonNode added : t.path("added_tokens")) {
                max = Math.max(max, added.path("id").asLong(-1));
            }
            String embed = Architecture.infer(model).embeddingMatrix();
            if (embed != null && max >= 0) {
                long rows = model.tensor(embed).info().shape()[0];
                if (max >= rows) {
                    out.add(new Finding(true, String.format(Locale.ROOT,
                            "the tokenizer has token id %d but %s has only %d rows", max, embed, rows)));
                }
            }
        } catch (IOException e) {
            out.add(new Finding(true, "tokenizer.json does not parse: " + e.getMessage()));
        }
    }

    /** With a merge journal ({@code .amalgam-journal}), every listed tensor must match its CRC-32C. */
    private static void checkJournal(Path dir, Model model, List<Finding> out) {
        Path journal = dir.resolve(".amalgam-journal");
        if (!Files.isRegularFile(journal)) {
            return;
        }
        try {
            List<String> lines = Files.readAllLines(journal);
            int checked = 0;
            for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
                if (line.length() < 10 || line.charAt(8) != ' ') {
                    continue;
                }
                String name = line.substring(9);
                TensorHandle h = model.tensor(name);
                if (h == null) {
                    out.add(new Finding(true, "the journal lists " + name + ", which the model lacks"));
                    continue;
                }
                java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
                crc.update(h.data().asByteBuffer());
                if ((int) crc.getValue() != Integer.parseUnsignedInt(line.substring(0, 8), 16)) {
                    out.add(new Finding(true, name + " does not match the checksum recorded when it was written"));
                }
                checked++;
            }
            if (checked < model.tensors().size()) {
                out.add(new Finding(false, String.format(Locale.ROOT, "the journal covers %d of %d tensors", checked,
                        model.tensors().size())));
            }
        } catch (IOException | NumberFormatException e) {
            out.add(new Finding(false, "the journal cannot be read: " + e.getMessage()));
        }
    }

    private static Iterable<JsonNode> iterable(JsonNode vocab) {
        if (vocab.isObject()) {
            List<JsonNode> ids = new ArrayList<>();
            vocab.properties().forEach(e -> ids.add(e.getValue()));
            return ids;
        }
        return List.of();
    }

    private static void scan(Model model, List<Finding> out) {
        float[] buf = new float[1 << 16];
        for (TensorHandle h : model.tensors().values()) {
            if (!h.info().dtype().isFloatingPoint()) {
                continue;
            }
            MemorySegment data = h.data();
            int size = h.info().dtype().byteSize();
            long n = h.info().numel();
            long nan = 0;
            long inf = 0;
            for (long off = 0; off < n; off += buf.length) {
                int len = (int) Math.min(buf.length, n - off);
                Codec.decode(h.info().dtype(), data, off * size, buf, 0, len);
                for (int i = 0; i < len; i++) {
                    if (Float.isNaN(buf[i])) {
                        nan++;
                    } else if (Float.isInfinite(buf[i])) {
                        inf++;
                    }
                }
            }
            if (nan + inf > 0) {
                out.add(new Finding(true, String.format(Locale.ROOT, "%s holds %d NaN and %d infinite values",
                        h.name(), nan, inf)));
            }
        }
    }
}
