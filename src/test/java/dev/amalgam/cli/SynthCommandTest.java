package dev.amalgam.cli;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.io.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SynthCommandTest {

    @TempDir
    Path tmp;

    private String run(String... args) {
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(new SynthCommand());
        cl.setOut(new PrintWriter(out, true));
        int code = cl.execute(args);
        assertThat(code).isZero();
        return out.toString();
    }

    @Test
    void writesAModelAndSaysWhat() {
        Path out = tmp.resolve("m");
        String line = run("--arch", "Qwen2ForCausalLM", "--layers", "2", "--dtype", "bfloat16", "--tied", "--seed", "7",
                "--shards", "2", out.toString());
        assertThat(line).startsWith("wrote Qwen2ForCausalLM to " + out).contains("parameters")
                .contains("2 safetensors files");
        assertThat(line.lines().count()).isEqualTo(1);
        try (SafetensorsFile f = SafetensorsFile.open(out.resolve("model-00001-of-00002.safetensors"))) {
            assertThat(f.tensors()).isNotEmpty();
        }
        String derived = run("--base", out.toString(), "--noise", "0.01", tmp.resolve("d").toString());
        assertThat(derived).startsWith("wrote derived Qwen2ForCausalLM");
    }

    @Test
    void badDtypeIsAnAmalgamException() {
        SynthCommand cmd = new SynthCommand();
        new CommandLine(cmd).parseArgs("--dtype", "int8", tmp.resolve("x").toString());
        assertThatThrownBy(cmd::call)
                .isInstanceOfSatisfying(AmalgamException.class, e -> assertThat(e.where().keyPath()).isEqualTo("--dtype"));
    }
}
