package dev.amalgam.io;

import java.util.Locale;

/**
 * The element types a safetensors tensor can be stored in, with their safetensors and PyTorch
 * names. Part of the I/O stage; the kernel codecs convert each of them to and from float32.
 */
public enum DType {
    F64(8, true, "F64", "float64"),
    F32(4, true, "F32", "float32"),
    F16(2, true, "F16", "float16"),
    BF16(2, true, "BF16", "bfloat16"),
    F8_E4M3(1, true, "F8_E4M3", "float8_e4m3fn"),
    F8_E5M2(1, true, "F8_E5M2", "float8_e5m2"),
    I64(8, false, "I64", "int64"),
    I32(4, false, "I32", "int32"),
    I16(2, false, "I16", "int16"),
    I8(1, false, "I8", "int8"),
    U8(1, false, "U8", "uint8"),
    BOOL(1, false, "BOOL", "bool");

    private final int byteSize;
    private final boolean floatingPoint;
    private final String safetensorsName;
    private final String torchName;

    DType(int byteSize, boolean floatingPoint, String safetensorsName, String torchName) {
        this.byteSize = byteSize;
        this.floatingPoint = floatingPoint;
        this.safetensorsName = safetensorsName;
        this.torchName = torchName;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** True for the float types F64, F32, F16, BF16, F8_E4M3 and F8_E5M2. */
    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    /** The name in a safetensors header, such as {@code "BF16"} or {@code "F8_E4M3"}. */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** The PyTorch name without the {@code torch.} prefix, such as {@code "bfloat16"}. */
    public String torchName() {
        return torchName;
    }

    /** The dtype for a safetensors header name (exact, upper case), or null if unknown. */
    public static DType fromSafetensors(String s) {
        if (s == null) {
            return null;
        }
        for (DType d : values()) {
            if (d.safetensorsName.equals(s)) {
                return d;
            }
        }
        return null;
    }

    /**
     * The dtype for a PyTorch name, with or without the {@code torch.} prefix: the canonical names
     * ({@code float16}, {@code bfloat16}, {@code float8_e4m3fn}, ...) and torch's aliases
     * {@code half}, {@code float}, {@code double}, {@code long}, {@code int}, {@code short}.
     * Returns null if unknown; abbreviations such as {@code bf16} are not torch names.
     */
    public static DType fromTorchName(String s) {
        if (s == null) {
            return null;
        }
        String n = s.strip().toLowerCase(Locale.ROOT);
        if (n.startsWith("torch.")) {
            n = n.substring("torch.".length());
        }
        for (DType d : values()) {
            if (d.torchName.equals(n)) {
                return d;
            }
        }
        return switch (n) {
            case "half" -> F16;
            case "float" -> F32;
            case "double" -> F64;
            case "long" -> I64;
            case "int" -> I32;
            case "short" -> I16;
            default -> null;
        };
    }
}
