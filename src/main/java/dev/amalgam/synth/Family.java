package dev.amalgam.synth;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.DType;

import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The model families synth can write from scratch: tensor names and shapes per family, and the
 * {@code config.json} fields transformers writes for it. Part of the synth tool.
 */
enum Family {
    LLAMA("LlamaForCausalLM", "llama"),
    MISTRAL("MistralForCausalLM", "mistral"),
    QWEN2("Qwen2ForCausalLM", "qwen2"),
    QWEN3("Qwen3ForCausalLM", "qwen3"),
    GEMMA("GemmaForCausalLM", "gemma"),
    PHI3("Phi3ForCausalLM", "phi3");

    final String architecture;
    final String modelType;

    Family(String architecture, String modelType) {
        this.architecture = architecture;
        this.modelType = modelType;
    }

    static Family of(String architecture) {
        for (Family f : values()) {
            if (f.architecture.equals(architecture)) {
                return f;
            }
        }
        throw AmalgamException.input("synth does not know architecture '" + architecture + "'",
                Where.at(null, 0, 0, "--arch"),
                "supported architectures: " + String.join(", ", Synth.SUPPORTED_ARCHITECTURES));
    }

    /** Tensor names and shapes, in no particular order. */
    List<Map.Entry<String, long[]>> tensors(SynthSpec s, int headDim, boolean tied) {
        long hidden = s.hidden();
        long inter = s.intermediate();
        long q = (long) s.heads() * headDim;
        long kv = (long) s.kvHeads() * headDim;
        List<Map.Entry<String, long[]>> out = new ArrayList<>();
        add(out, "model.embed_tokens.weight", s.vocab(), hidden);
        for (int l = 0; l < s.layers(); l++) {
            String p = "model.layers." + l + ".";
            add(out, p + "input_layernorm.weight", hidden);
            add(out, p + "post_attention_layernorm.weight", hidden);
            if (this == PHI3) {
                add(out, p + "self_attn.qkv_proj.weight", q + 2 * kv, hidden);
                add(out, p + "self_attn.o_proj.weight", hidden, q);
                add(out, p + "mlp.gate_up_proj.weight", 2 * inter, hidden);
                add(out, p + "mlp.down_proj.weight", hidden, inter);
                continue;
            }
            add(out, p + "self_attn.q_proj.weight", q, hidden);
            add(out, p + "self_attn.k_proj.weight", kv, hidden);
            add(out, p + "self_attn.v_proj.weight", kv, hidden);
            add(out, p + "self_attn.o_proj.weight", hidden, q);
            if (this == QWEN2) {
                add(out, p + "self_attn.q_proj.bias", q);
                add(out, p + "self_attn.k_proj.bias", kv);
                add(out, p + "self_attn.v_proj.bias", kv);
            }
            if (this == QWEN3) {
                add(out, p + "self_attn.q_norm.weight", headDim);
                add(out, p + "self_attn.k_norm.weight", headDim);
            }
            add(out, p + "mlp.gate_proj.weight", inter, hidden);
            add(out, p + "mlp.up_proj.weight", inter, hidden);
            add(out, p + "mlp.down_proj.weight", hidden, inter);
        }
        add(out, "model.norm.weight", hidden);
        if (!tied) {
            add(out, "lm_head.weight", s.vocab(), hidden);
        }
        return out;
    }

    private static void add(List<Map.Entry<String, long[]>> out, String name, long... shape) {
        out.add(new AbstractMap.SimpleImmutableEntry<>(name, shape));
    }

    /** config.json as transformers' {@code save_pretrained} writes it (keys sorted). */
    Map<String, Object> config(SynthSpec s, int headDim, boolean tied, DType dtype) {
        Map<String, Object> c = new TreeMap<>();
        c.put("architectures", List.of(architecture));
        c.put("model_type", modelType);
        c.put("attention_dropout", 0.0);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        c.put("hidden_act", "silu");
        c.put("hidden_size", s.hidden());
        c.put("initializer_range", 0.02);
        c.put("intermediate_size", s.intermediate());
        c.put("max_position_embeddings", 2048);
        c.put("num_attention_heads", s.heads());
        c.put("num_hidden_layers", s.layers());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("tie_word_embeddings", tied);
        c.put("torch_dtype", dtype.torchName());
        c.put("use_cache", true);
        c.put("vocab_size", s.vocab());
        switch (this) {
            case LLAMA -> {
                c.put("head_dim", headDim);
                c.put("attention_bias", false);
                c.put("mlp_bias", false);
                c.put("pretraining_tp", 1);
                c.put("rope_scaling", null);
            }
            case MISTRAL -> {
                c.put("head_dim", headDim);
                c.put("sliding_window", null);
            }
            case QWEN2 -> {
                c.put("max_window_layers", s.layers());
                c.put("rms_norm_eps", 1e-6);
                c.put("rope_theta", 1000000.0);
                c.put("sliding_window", null);
                c.put("use_sliding_window", false);
            }
            case QWEN3 -> {
                c.put("head_dim", headDim);
                c.put("attention_bias", false);
                c.put("max_window_layers", s.layers());
                c.put("rms_norm_eps", 1e-6);
                c.put("rope_scaling", null);
                c.put("rope_theta", 1000000.0);
                c.put("sliding_window", null);
                c.put("use_sliding_window", false);
            }
            case GEMMA -> {
                c.put("head_dim", headDim);
                c.put("attention_bias", false);
                c.put("hidden_act", "gelu_pytorch_tanh");
                c.put("hidden_activation", "gelu_pytorch_tanh");
                c.put("pad_token_id", 0);
                c.put("rms_norm_eps", 1e-6);
                c.put("rope_scaling", null);
            }
            case PHI3 -> {
                c.put("attention_bias", false);
                c.put("embd_pdrop", 0.0);
                c.put("original_max_position_embeddings", 2048);
                c.put("resid_pdrop", 0.0);
                c.put("rope_scaling", null);
                c.put("sliding_window", null);
            }
        }
        return c;
    }
}
