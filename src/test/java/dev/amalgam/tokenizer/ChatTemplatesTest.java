package dev.amalgam.tokenizer;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ChatTemplatesTest {

    private static final Where AT = Where.at("r.yml", 3, 16, "chat_template");

    @Test
    void autoPicksTheMostCommonStrippedTemplateTiesToTheFirst() {
        assertThat(ChatTemplates.resolve("auto", AT, Arrays.asList("{{ a }}\n", null, " {{ b }}", "{{ b }}")))
                .isEqualTo("{{ b }}");
        assertThat(ChatTemplates.resolve("auto", AT, List.of("{{ a }}", "{{ b }}"))).isEqualTo("{{ a }}");
        assertThat(ChatTemplates.resolve("auto", AT, Arrays.asList(null, null))).isNull();
    }

    @Test
    void emptyKeepsTheTokenizersOwn() {
        assertThat(ChatTemplates.resolve(null, AT, List.of())).isNull();
        assertThat(ChatTemplates.resolve("", AT, List.of())).isNull();
    }

    @Test
    void builtInsHaveTheirFamilysMarkers() {
        assertThat(ChatTemplates.names()).containsExactly("alpaca", "chatml", "exaone", "llama3", "mistral");
        assertThat(ChatTemplates.resolve("chatml", AT, List.of())).contains("'<|im_start|>'", "'<|im_end|>\\n'",
                "add_generation_prompt");
        assertThat(ChatTemplates.builtIn("llama3")).contains("<|start_header_id|>", "<|end_header_id|>",
                "<|eot_id|>", "bos_token");
        assertThat(ChatTemplates.builtIn("mistral")).contains("[INST] ", " [/INST]", "eos_token");
        assertThat(ChatTemplates.builtIn("alpaca")).contains("### Instruction:", "### Response:");
        assertThat(ChatTemplates.builtIn("exaone")).contains("[|system|]", "[|endofturn|]", "[|assistant|]");
        for (String n : ChatTemplates.names()) {
            String t = ChatTemplates.builtIn(n);
            assertThat(t.split("\\{%-? *for ", -1)).as(n + " for/endfor").hasSize(t.split("endfor", -1).length);
            assertThat(t.split("\\{%-? *if ", -1)).as(n + " if/endif").hasSize(t.split("endif", -1).length);
        }
    }

    @Test
    void inlineTemplatesAreCheckedLikeMergekit() {
        String inline = "{% for m in messages %}{{ m['content'] }}{% endfor %}";
        assertThat(ChatTemplates.resolve(inline, AT, List.of())).isEqualTo(inline);
        assertThatThrownBy(() -> ChatTemplates.resolve("{{ short }}", AT, List.of()))
                .isInstanceOf(AmalgamException.class).hasMessageContaining("invalid chat_template");
        assertThatThrownBy(() -> ChatTemplates.resolve("a long string without any braces", AT, List.of()))
                .isInstanceOf(AmalgamException.class)
                .satisfies(e -> assertThat(((AmalgamException) e).where()).isEqualTo(AT));
        assertThatThrownBy(() -> ChatTemplates.resolve("llama-3", AT, List.of()))
                .satisfies(e -> assertThat(((AmalgamException) e).hint()).startsWith("did you mean 'llama3'?"));
    }
}
