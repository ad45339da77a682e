package dev.amalgam.tokenizer;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.recipe.Suggest;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The recipe's {@code chat_template}: {@code auto} (the template most of the input models use),
 * one of the built-in names, or an inline Jinja template. Tokenizer stage, resolved at plan time.
 * The built-in templates are Amalgam's own text for the standard turn formats of each family
 * (they render the same role structure as mergekit's files, not the same bytes).
 */
public final class ChatTemplates {

    /** Built-in templates by name. */
    static final Map<String, String> BUILT_IN = new LinkedHashMap<>();

    static {
        BUILT_IN.put("alpaca", """
                {%- for message in messages -%}
                    {%- if message['role'] == 'system' -%}
                        {{- message['content'] + '\\n\\n' -}}
                    {%- elif message['role'] == 'user' -%}
                        {{- '### Instruction:\\n' + message['content'] + '\\n\\n' -}}
                    {%- elif message['role'] == 'assistant' -%}
                        {{- '### Response:\\n' + message['content'] + eos_token + '\\n\\n' -}}
                    {%- endif -%}
                {%- endfor -%}
                {%- if add_generation_prompt -%}
                    {{- '### Response:\\n' -}}
                {%- endif -%}
                """);
        BUILT_IN.put("chatml", """
                {%- for message in messages -%}
                    {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}
                {%- endfor -%}
                {%- if add_generation_prompt -%}
                    {{- '<|im_start|>assistant\\n' -}}
                {%- endif -%}
                """);
        BUILT_IN.put("exaone", """
                {%- for message in messages -%}
                    {%- if loop.first and message['role'] != 'system' -%}
                        {{- '[|system|][|endofturn|]\\n' -}}
                    {%- endif -%}
                    {{- '[|' + message['role'] + '|]' + message['content'] -}}
                    {%- if message['role'] == 'user' -%}
                        {{- '\\n' -}}
                    {%- else -%}
                        {{- '[|endofturn|]\\n' -}}
                    {%- endif -%}
                {%- endfor -%}
                {%- if add_generation_prompt -%}
                    {{- '[|assistant|]' -}}
                {%- endif -%}
                """);
        BUILT_IN.put("llama3", """
                {{- bos_token -}}
                {%- for message in messages -%}
                    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' -}}
                    {{- (message['content'] | trim) + '<|eot_id|>' -}}
                {%- endfor -%}
                {%- if add_generation_prompt -%}
                    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
                {%- endif -%}
                """);
        BUILT_IN.put("mistral", """
                {{- bos_token -}}
                {%- set ns = namespace(system='') -%}
                {%- for message in messages -%}
                    {%- if message['role'] == 'system' -%}
                        {%- set ns.system = message['content'] + '\\n\\n' -%}
                    {%- elif message['role'] == 'user' -%}
                        {{- '[INST] ' + ns.system + message['content'] + ' [/INST]' -}}
                        {%- set ns.system = '' -%}
                    {%- elif message['role'] == 'assistant' -%}
                        {{- message['content'] + eos_token -}}
                    {%- endif -%}
                {%- endfor -%}
                """);
    }

    private static final int MIN_INLINE = 20;

    private ChatTemplates() {
    }

    /** The built-in names. */
    public static List<String> names() {
        return List.copyOf(BUILT_IN.keySet());
    }

    /** The built-in template of this name, or null. */
    public static String builtIn(String name) {
        return BUILT_IN.get(name);
    }

    /**
     * The template the output gets, or null to keep the tokenizer's own.
     *
     * @param value  the recipe's {@code chat_template}, or null
     * @param where  its location
     * @param inputs the templates of the input models in recipe order (null entries for none)
     */
    public static String resolve(String value, Where where, List<String> inputs) {
        if (value == null || value.isEmpty()) {
            return null;
        }
        if (value.equals("auto")) {
            return mostCommon(inputs);
        }
        String builtIn = BUILT_IN.get(value);
        if (builtIn != null) {
            return builtIn;
        }
        if (value.length() < MIN_INLINE || !value.contains("{")) {
            String near = Suggest.closest(value, BUILT_IN.keySet());
            throw AmalgamException.recipe("invalid chat_template '" + value + "': not 'auto', not a built-in name and "
                            + "not a Jinja template", where, (near != null ? "did you mean '" + near + "'? " : "")
                            + "use auto, one of " + String.join(", ", BUILT_IN.keySet())
                            + ", or an inline Jinja template (at least " + MIN_INLINE + " characters, with '{')");
        }
        return value;
    }

    /** The most common template, compared with surrounding whitespace stripped; ties go to the first. */
    static String mostCommon(List<String> templates) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String t : templates) {
            if (t != null && !t.strip().isEmpty()) {
                counts.merge(t.strip(), 1, Integer::sum);
            }
        }
        String best = null;
        int n = 0;
        for (Map.Entry<String, Integer> e : counts.entrySet()) {
            if (e.getValue() > n) {
                best = e.getKey();
                n = e.getValue();
            }
        }
        return best;
    }
}
