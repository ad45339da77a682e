package dev.amalgam.synth;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;
import dev.amalgam.io.DType;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The model families synth can write from scratch: tensor names and shapes per family, as the
 * family's checkpoints on the Hub name them, and the {@code config.json} fields transformers writes
 * for it. Part of the synth tool.
 *
 * <p>Most families are named by their Hugging Face architecture; a second layout of the same
 * architecture has a suffix: {@code MixtralForCausalLM} keeps one tensor per expert (as Mixtral
 * checkpoints on the Hub do), {@code MixtralForCausalLM/fused} has transformers 5's fused expert
 * tensors. Mixture-of-experts families have {@value #EXPERTS} experts, 2 per token; the LLaVA family
 * has a {@value #VISION_LAYERS}-layer CLIP vision tower (28-pixel images, 14-pixel patches) and a
 * two-layer projector; BERT has 512 positions and stores its {@code position_ids} (int64).
 */
enum Family {
    LLAMA("LlamaForCausalLM", "llama", Tie.OPTIONAL),
    MISTRAL("MistralForCausalLM", "mistral", Tie.OPTIONAL),
    QWEN2("Qwen2ForCausalLM", "qwen2", Tie.OPTIONAL),
    QWEN3("Qwen3ForCausalLM", "qwen3", Tie.OPTIONAL),
    GEMMA("GemmaForCausalLM", "gemma", Tie.ALWAYS),
    GEMMA2("Gemma2ForCausalLM", "gemma2", Tie.ALWAYS),
    GEMMA3("Gemma3ForCausalLM", "gemma3_text", Tie.ALWAYS),
    PHI3("Phi3ForCausalLM", "phi3", Tie.OPTIONAL),
    STABLELM("StableLmForCausalLM", "stablelm", Tie.OPTIONAL),
    COHERE("CohereForCausalLM", "cohere", Tie.ALWAYS),
    GPT2("GPT2LMHeadModel", "gpt2", Tie.ALWAYS),
    GPT_NEOX("GPTNeoXForCausalLM", "gpt_neox", Tie.OPTIONAL),
    MIXTRAL("MixtralForCausalLM", "mixtral", Tie.OPTIONAL),
    MIXTRAL_FUSED("MixtralForCausalLM/fused", "mixtral", Tie.OPTIONAL),
    LLAVA("LlavaForConditionalGeneration", "llava", Tie.OPTIONAL),
    BERT("BertForMaskedLM", "bert", Tie.ALWAYS);

    static final int EXPERTS = 4;
    static final int VISION_LAYERS = 2;
    private static final int IMAGE = 28;
    private static final int PATCH = 14;
    private static final int BERT_POSITIONS = 512;
    private static final int GPT2_POSITIONS = 1024;

    /** Whether the output head is tied to the input embedding. */
    enum Tie { OPTIONAL, ALWAYS }

    /**
     * One tensor: name, shape, and how it is initialised ({@code mean + N(0, 0.02²)}, or
     * {@code 0, 1, 2, ...} as int64 for position ids).
     */
    record Tensor(String name, long[] shape, float mean, boolean positions) {
    }

    final String synthName;
    final String architecture;
    final String modelType;
    final Tie tie;

    Family(String synthName, String modelType, Tie tie) {
        this.synthName = synthName;
        this.architecture = synthName.contains("/") ? synthName.substring(0, synthName.indexOf('/')) : synthName;
        this.modelType = modelType;
        this.tie = tie;
    }

    static Family of(String name) {
        for (Family f : values()) {
            if (f.synthName.equals(name)) {
                return f;
            }
        }
        throw AmalgamException.input("synth does not know architecture '" + name + "'",
                Where.at(null, 0, 0, "--arch"),
                "supported architectures: " + String.join(", ", Synth.SUPPORTED_ARCHITECTURES));
    }

    boolean tied(boolean requested) {
        return tie == Tie.ALWAYS || requested;
    }

    /** Gemma-style norms scale by {@code 1 + weight}, so their weights are centred on 0. */
    private boolean offsetNorms() {
        return this == GEMMA || this == GEMMA2 || this == GEMMA3;
    }

    /** Tensor names, shapes and initialisation, in no particular order. */
    List<Tensor> tensors(SynthSpec s, int headDim, boolean tied) {
        List<Tensor> out = new ArrayList<>();
        switch (this) {
            case GPT2 -> gpt2(out, s);
            case GPT_NEOX -> gptNeox(out, s, tied);
            case BERT -> bert(out, s);
            case LLAVA -> {
                decoder(out, "language_model.", s, headDim, tied);
                vision(out, s);
            }
            default -> decoder(out, "", s, headDim, tied);
        }
        return out;
    }

    private void decoder(List<Tensor> out, String root, SynthSpec s, int headDim, boolean tied) {
        long hidden = s.hidden();
        long inter = s.intermediate();
        long q = (long) s.heads() * headDim;
        long kv = (long) s.kvHeads() * headDim;
        add(out, root + "model.embed_tokens.weight", s.vocab(), hidden);
        for (int l = 0; l < s.layers(); l++) {
            String p = root + "model.layers." + l + ".";
            norm(out, p + "input_layernorm.weight", hidden);
            if (this != COHERE) {
                norm(out, p + "post_attention_layernorm.weight", hidden);
            }
            if (this == GEMMA2 || this == GEMMA3) {
                norm(out, p + "pre_feedforward_layernorm.weight", hidden);
                norm(out, p + "post_feedforward_layernorm.weight", hidden);
            }
            if (this == STABLELM) {
                add(out, p + "input_layernorm.bias", hidden);
                add(out, p + "post_attention_layernorm.bias", hidden);
            }
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
            if (this == QWEN2 || this == STABLELM) {
                add(out, p + "self_attn.q_proj.bias", q);
                add(out, p + "self_attn.k_proj.bias", kv);
                add(out, p + "self_attn.v_proj.bias", kv);
            }
            if (this == QWEN3 || this == GEMMA3) {
                norm(out, p + "self_attn.q_norm.weight", headDim);
                norm(out, p + "self_attn.k_norm.weight", headDim);
            }
            if (this == MIXTRAL) {
                add(out, p + "block_sparse_moe.gate.weight", EXPERTS, hidden);
                for (int e = 0; e < EXPERTS; e++) {
                    String x = p + "block_sparse_moe.experts." + e + ".";
                    add(out, x + "w1.weight", inter, hidden);
                    add(out, x + "w2.weight", hidden, inter);
                    add(out, x + "w3.weight", inter, hidden);
                }
            } else if (this == MIXTRAL_FUSED) {
                add(out, p + "mlp.gate.weight", EXPERTS, hidden);
                add(out, p + "mlp.experts.gate_up_proj", EXPERTS, 2 * inter, hidden);
                add(out, p + "mlp.experts.down_proj", EXPERTS, hidden, inter);
            } else {
                add(out, p + "mlp.gate_proj.weight", inter, hidden);
                add(out, p + "mlp.up_proj.weight", inter, hidden);
                add(out, p + "mlp.down_proj.weight", hidden, inter);
            }
        }
        norm(out, root + "model.norm.weight", hidden);
        if (this == STABLELM) {
            add(out, root + "model.norm.bias", hidden);
        }
        if (!tied) {
            add(out, root + "lm_head.weight", s.vocab(), hidden);
        }
    }

    /** GPT-2: Conv1D weights stored as (in, out). */
    private static void gpt2(List<Tensor> out, SynthSpec s) {
        long h = s.hidden();
        long inter = s.intermediate();
        add(out, "transformer.wte.weight", s.vocab(), h);
        add(out, "transformer.wpe.weight", GPT2_POSITIONS, h);
        for (int l = 0; l < s.layers(); l++) {
            String p = "transformer.h." + l + ".";
            ln(out, p + "ln_1", h);
            add(out, p + "attn.c_attn.weight", h, 3 * h);
            add(out, p + "attn.c_attn.bias", 3 * h);
            add(out, p + "attn.c_proj.weight", h, h);
            add(out, p + "attn.c_proj.bias", h);
            ln(out, p + "ln_2", h);
            add(out, p + "mlp.c_fc.weight", h, inter);
            add(out, p + "mlp.c_fc.bias", inter);
            add(out, p + "mlp.c_proj.weight", inter, h);
            add(out, p + "mlp.c_proj.bias", h);
        }
        ln(out, "transformer.ln_f", h);
    }

    private static void gptNeox(List<Tensor> out, SynthSpec s, boolean tied) {
        long h = s.hidden();
        long inter = s.intermediate();
        add(out, "gpt_neox.embed_in.weight", s.vocab(), h);
        for (int l = 0; l < s.layers(); l++) {
            String p = "gpt_neox.layers." + l + ".";
            ln(out, p + "input_layernorm", h);
            ln(out, p + "post_attention_layernorm", h);
            add(out, p + "attention.query_key_value.weight", 3 * h, h);
            add(out, p + "attention.query_key_value.bias", 3 * h);
            add(out, p + "attention.dense.weight", h, h);
            add(out, p + "attention.dense.bias", h);
            add(out, p + "mlp.dense_h_to_4h.weight", inter, h);
            add(out, p + "mlp.dense_h_to_4h.bias", inter);
            add(out, p + "mlp.dense_4h_to_h.weight", h, inter);
            add(out, p + "mlp.dense_4h_to_h.bias", h);
        }
        ln(out, "gpt_neox.final_layer_norm", h);
        if (!tied) {
            add(out, "embed_out.weight", s.vocab(), h);
        }
    }

    /** BERT with its pooler and masked-LM head; the decoder is tied to the word embeddings. */
    private static void bert(List<Tensor> out, SynthSpec s) {
        long h = s.hidden();
        long inter = s.intermediate();
        add(out, "bert.embeddings.word_embeddings.weight", s.vocab(), h);
        add(out, "bert.embeddings.position_embeddings.weight", BERT_POSITIONS, h);
        add(out, "bert.embeddings.token_type_embeddings.weight", 2, h);
        ln(out, "bert.embeddings.LayerNorm", h);
        out.add(new Tensor("bert.embeddings.position_ids", new long[] {1, BERT_POSITIONS}, 0f, true));
        for (int l = 0; l < s.layers(); l++) {
            String p = "bert.encoder.layer." + l + ".";
            for (String x : List.of("attention.self.query", "attention.self.key", "attention.self.value",
                    "attention.output.dense")) {
                add(out, p + x + ".weight", h, h);
                add(out, p + x + ".bias", h);
            }
            ln(out, p + "attention.output.LayerNorm", h);
            add(out, p + "intermediate.dense.weight", inter, h);
            add(out, p + "intermediate.dense.bias", inter);
            add(out, p + "output.dense.weight", h, inter);
            add(out, p + "output.dense.bias", h);
            ln(out, p + "output.LayerNorm", h);
        }
        add(out, "bert.pooler.dense.weight", h, h);
        add(out, "bert.pooler.dense.bias", h);
        add(out, "cls.predictions.bias", s.vocab());
        add(out, "cls.predictions.transform.dense.weight", h, h);
        add(out, "cls.predictions.transform.dense.bias", h);
        ln(out, "cls.predictions.transform.LayerNorm", h);
    }

    /** LLaVA's CLIP vision tower and projector. */
    private static void vision(List<Tensor> out, SynthSpec s) {
        long h = s.hidden();
        long inter = s.intermediate();
        String v = "vision_tower.vision_model.";
        add(out, v + "embeddings.class_embedding", h);
        add(out, v + "embeddings.patch_embedding.weight", h, 3, PATCH, PATCH);
        add(out, v + "embeddings.position_embedding.weight", (long) (IMAGE / PATCH) * (IMAGE / PATCH) + 1, h);
        ln(out, v + "pre_layrnorm", h);
        for (int l = 0; l < VISION_LAYERS; l++) {
            String p = v + "encoder.layers." + l + ".";
            for (String x : List.of("q_proj", "k_proj", "v_proj", "out_proj")) {
                add(out, p + "self_attn." + x + ".weight", h, h);
                add(out, p + "self_attn." + x + ".bias", h);
            }
            ln(out, p + "layer_norm1", h);
            add(out, p + "mlp.fc1.weight", inter, h);
            add(out, p + "mlp.fc1.bias", inter);
            add(out, p + "mlp.fc2.weight", h, inter);
            add(out, p + "mlp.fc2.bias", h);
            ln(out, p + "layer_norm2", h);
        }
        ln(out, v + "post_layernorm", h);
        add(out, "multi_modal_projector.linear_1.weight", h, h);
        add(out, "multi_modal_projector.linear_1.bias", h);
        add(out, "multi_modal_projector.linear_2.weight", h, h);
        add(out, "multi_modal_projector.linear_2.bias", h);
    }

    private static void add(List<Tensor> out, String name, long... shape) {
        out.add(new Tensor(name, shape, 0f, false));
    }

    private void norm(List<Tensor> out, String name, long size) {
        out.add(new Tensor(name, new long[] {size}, offsetNorms() ? 0f : 1f, false));
    }

    /** A LayerNorm: weight around 1, bias around 0. */
    private static void ln(List<Tensor> out, String name, long size) {
        out.add(new Tensor(name + ".weight", new long[] {size}, 1f, false));
        add(out, name + ".bias", size);
    }

    /** config.json as transformers' {@code save_pretrained} writes it (keys sorted). */
    Map<String, Object> config(SynthSpec s, int headDim, boolean tied, DType dtype) {
        Map<String, Object> c = switch (this) {
            case GPT2 -> gpt2Config(s);
            case GPT_NEOX -> neoxConfig(s);
            case BERT -> bertConfig(s);
            case LLAVA -> llavaConfig(s, headDim, tied);
            default -> decoderConfig(s, headDim);
        };
        c.put("architectures", List.of(architecture));
        c.put("model_type", modelType);
        c.put("tie_word_embeddings", tied);
        c.put("torch_dtype", dtype.torchName());
        if (this != LLAVA) {
            c.put("vocab_size", s.vocab());
        }
        return c;
    }

    private Map<String, Object> decoderConfig(SynthSpec s, int headDim) {
        Map<String, Object> c = new TreeMap<>();
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
        c.put("use_cache", true);
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
            case GEMMA, GEMMA2, GEMMA3 -> {
                c.put("head_dim", headDim);
                c.put("attention_bias", false);
                c.put("hidden_act", "gelu_pytorch_tanh");
                c.put("hidden_activation", "gelu_pytorch_tanh");
                c.put("pad_token_id", 0);
                c.put("rms_norm_eps", 1e-6);
                c.put("rope_scaling", null);
                if (this != GEMMA) {
                    c.put("attn_logit_softcapping", this == GEMMA2 ? 50.0 : null);
                    c.put("final_logit_softcapping", this == GEMMA2 ? 30.0 : null);
                    c.put("query_pre_attn_scalar", headDim);
                    c.put("sliding_window", 4096);
                }
                if (this == GEMMA3) {
                    c.put("rope_local_base_freq", 10000.0);
                    c.put("sliding_window_pattern", 6);
                }
            }
            case PHI3 -> {
                c.put("attention_bias", false);
                c.put("embd_pdrop", 0.0);
                c.put("original_max_position_embeddings", 2048);
                c.put("resid_pdrop", 0.0);
                c.put("rope_scaling", null);
                c.put("sliding_window", null);
            }
            case STABLELM -> {
                c.put("hidden_dropout", 0.0);
                c.put("layer_norm_eps", 1e-5);
                c.remove("rms_norm_eps");
                c.put("partial_rotary_factor", 0.25);
                c.put("qk_layernorm", false);
                c.put("use_parallel_residual", false);
                c.put("use_qkv_bias", true);
            }
            case COHERE -> {
                c.put("attention_bias", false);
                c.put("layer_norm_eps", 1e-5);
                c.remove("rms_norm_eps");
                c.put("logit_scale", 0.0625);
                c.put("use_qk_norm", false);
            }
            case MIXTRAL, MIXTRAL_FUSED -> {
                c.put("head_dim", headDim);
                c.put("num_experts_per_tok", 2);
                c.put("num_local_experts", EXPERTS);
                c.put("output_router_logits", false);
                c.put("router_aux_loss_coef", 0.001);
                c.put("sliding_window", null);
            }
            default -> {
            }
        }
        return c;
    }

    private static Map<String, Object> gpt2Config(SynthSpec s) {
        Map<String, Object> c = new TreeMap<>();
        c.put("activation_function", "gelu_new");
        c.put("attn_pdrop", 0.1);
        c.put("bos_token_id", 1);
        c.put("embd_pdrop", 0.1);
        c.put("eos_token_id", 2);
        c.put("initializer_range", 0.02);
        c.put("layer_norm_epsilon", 1e-5);
        c.put("n_ctx", GPT2_POSITIONS);
        c.put("n_embd", s.hidden());
        c.put("n_head", s.heads());
        c.put("n_inner", s.intermediate());
        c.put("n_layer", s.layers());
        c.put("n_positions", GPT2_POSITIONS);
        c.put("resid_pdrop", 0.1);
        c.put("scale_attn_weights", true);
        c.put("use_cache", true);
        return c;
    }

    private static Map<String, Object> neoxConfig(SynthSpec s) {
        Map<String, Object> c = new TreeMap<>();
        c.put("attention_dropout", 0.0);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        c.put("hidden_act", "gelu");
        c.put("hidden_dropout", 0.0);
        c.put("hidden_size", s.hidden());
        c.put("initializer_range", 0.02);
        c.put("intermediate_size", s.intermediate());
        c.put("layer_norm_eps", 1e-5);
        c.put("max_position_embeddings", 2048);
        c.put("num_attention_heads", s.heads());
        c.put("num_hidden_layers", s.layers());
        c.put("rotary_emb_base", 10000);
        c.put("rotary_pct", 0.25);
        c.put("use_cache", true);
        c.put("use_parallel_residual", true);
        return c;
    }

    private static Map<String, Object> bertConfig(SynthSpec s) {
        Map<String, Object> c = new TreeMap<>();
        c.put("attention_probs_dropout_prob", 0.1);
        c.put("hidden_act", "gelu");
        c.put("hidden_dropout_prob", 0.1);
        c.put("hidden_size", s.hidden());
        c.put("initializer_range", 0.02);
        c.put("intermediate_size", s.intermediate());
        c.put("layer_norm_eps", 1e-12);
        c.put("max_position_embeddings", BERT_POSITIONS);
        c.put("num_attention_heads", s.heads());
        c.put("num_hidden_layers", s.layers());
        c.put("pad_token_id", 0);
        c.put("position_embedding_type", "absolute");
        c.put("type_vocab_size", 2);
        c.put("use_cache", true);
        return c;
    }

    private static Map<String, Object> llavaConfig(SynthSpec s, int headDim, boolean tied) {
        Map<String, Object> text = LLAMA.decoderConfig(s, headDim);
        text.put("architectures", List.of("LlamaForCausalLM"));
        text.put("model_type", "llama");
        text.put("tie_word_embeddings", tied);
        text.put("vocab_size", s.vocab());
        Map<String, Object> vision = new TreeMap<>();
        vision.put("hidden_act", "quick_gelu");
        vision.put("hidden_size", s.hidden());
        vision.put("image_size", IMAGE);
        vision.put("intermediate_size", s.intermediate());
        vision.put("layer_norm_eps", 1e-5);
        vision.put("model_type", "clip_vision_model");
        vision.put("num_attention_heads", s.heads());
        vision.put("num_channels", 3);
        vision.put("num_hidden_layers", VISION_LAYERS);
        vision.put("patch_size", PATCH);
        vision.put("projection_dim", s.hidden());
        Map<String, Object> c = new TreeMap<>();
        c.put("image_seq_length", (IMAGE / PATCH) * (IMAGE / PATCH));
        c.put("image_token_index", 3);
        c.put("projector_hidden_act", "gelu");
        c.put("text_config", text);
        c.put("vision_config", vision);
        c.put("vision_feature_layer", -2);
        c.put("vision_feature_select_strategy", "default");
        return c;
    }
}
