package dev.amalgam.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.amalgam.io.DType;
import dev.amalgam.model.Architecture;
import dev.amalgam.model.Configs;
import dev.amalgam.model.Model;
import dev.amalgam.model.TensorHandle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code amalgam inspect MODEL}: what a model directory holds — architecture, layer structure,
 * parameter count, dtypes, files, tied embeddings — read from headers and config.json only.
 * CLI stage.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Show a model's architecture, layers, parameters, dtypes, files and embeddings.")
public final class InspectCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "A model directory.")
    Path model;

    @Option(names = "--tensors", description = "Also list every tensor with its shape and dtype.")
    boolean tensors;

    @Option(names = "--stacktrace", description = "Show stack traces of errors.")
    boolean stacktrace;

    @Override
    public Integer call() throws IOException {
        PrintWriter w = spec.commandLine().getOut();
        try (Model m = Model.open(model, model.toString())) {
            Architecture a = Architecture.infer(m);
            JsonNode type = m.config().get("model_type");
            w.printf(Locale.ROOT, "model:        %s%n", m.dir());
            w.printf(Locale.ROOT, "architecture: %s%s%n", m.architectureName() == null ? "(not in config.json)"
                    : m.architectureName(), type == null ? "" : " (model_type " + type.asText() + ")");
            String layerKey = a.layerCountKey() == null ? "no layer count in config.json"
                    : "config " + a.layerCountKey() + " = " + Configs.get(m.config(), a.layerCountKey()).asText();
            w.printf(Locale.ROOT, "layers:       %d under '%s.N.' (%s), %d tensors in layer 0%n", a.observedLayers(),
                    a.layerPrefix(), layerKey, a.layerSuffixes(0).size());
            w.printf(Locale.ROOT, "pre-layer:    %s%n", describe(m, a.preWeights()));
            w.printf(Locale.ROOT, "post-layer:   %s%n", describe(m, a.postWeights()));
            if (!a.extraWeights().isEmpty()) {
                w.printf(Locale.ROOT, "other:        %d tensors outside the layer stack (carried from the base in "
                        + "a merge), e.g. %s%n", a.extraWeights().size(), a.extraWeights().getFirst());
            }
            long params = 0;
            Map<DType, Integer> dtypes = new TreeMap<>();
            for (TensorHandle h : m.tensors().values()) {
                params += h.info().numel();
                dtypes.merge(h.info().dtype(), 1, Integer::sum);
            }
            w.printf(Locale.ROOT, "parameters:   %,d in %d tensors (%s)%n", params, m.tensors().size(),
                    Console.bytes(m.dataBytes()));
            StringBuilder dt = new StringBuilder();
            dtypes.forEach((d, n) -> dt.append(dt.isEmpty() ? "" : ", ").append(d.safetensorsName()).append(" x")
                    .append(n));
            w.printf(Locale.ROOT, "dtypes:       %s%n", dt);
            var files = m.shards();
            w.printf(Locale.ROOT, "files:        %d: ", files.size());
            for (int i = 0; i < files.size(); i++) {
                Path p = files.get(i).path();
                w.printf(Locale.ROOT, "%s%s (%s)", i == 0 ? "" : ", ", p.getFileName(), Console.bytes(Files.size(p)));
            }
            w.println();
            String embed = a.embeddingMatrix();
            boolean head = m.tensors().keySet().stream().anyMatch(Architecture::isOutputHead);
            JsonNode tie = m.config().get("tie_word_embeddings");
            w.printf(Locale.ROOT, "embeddings:   %s; config tie_word_embeddings = %s%n",
                    head ? "untied (own output head)" : embed == null ? "no embedding matrix found"
                            : "tied (the output head is " + embed + ")", tie == null ? "unset" : tie.asText());
            JsonNode vocab = Configs.get(m.config(), "vocab_size");
            if (vocab == null) {
                vocab = Configs.get(m.config(), "text_config.vocab_size");
            }
            w.printf(Locale.ROOT, "vocabulary:   %s; tokenizer files: %s%n", vocab == null ? "not in config.json"
                    : vocab.asText(), tokenizerFiles(m.dir()));
            if (tensors) {
                for (TensorHandle h : m.tensors().values()) {
                    w.printf(Locale.ROOT, "  %-60s %-8s %s%n", h.name(), h.info().dtype().safetensorsName(),
                            h.info().shapeString());
                }
            }
        }
        w.flush();
        return 0;
    }

    private static String describe(Model m, List<String> names) {
        if (names.isEmpty()) {
            return "none";
        }
        StringBuilder sb = new StringBuilder();
        for (String n : names) {
            TensorHandle h = m.tensor(n);
            sb.append(sb.isEmpty() ? "" : ", ").append(n).append(' ').append(h.info().shapeString());
        }
        return sb.toString();
    }

    private static String tokenizerFiles(Path dir) {
        StringBuilder sb = new StringBuilder();
        for (String f : List.of("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "chat_template.jinja")) {
            if (Files.isRegularFile(dir.resolve(f))) {
                sb.append(sb.isEmpty() ? "" : ", ").append(f);
            }
        }
        return sb.isEmpty() ? "none" : sb.toString();
    }
}
