package dev.amalgam.io;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class DTypeTest {

    @Test
    void namesRoundTrip() {
        for (DType d : DType.values()) {
            assertThat(DType.fromSafetensors(d.safetensorsName())).isEqualTo(d);
            assertThat(DType.fromTorchName(d.torchName())).isEqualTo(d);
            assertThat(DType.fromTorchName("torch." + d.torchName())).isEqualTo(d);
        }
    }

    @Test
    void torchNamesAndAliases() {
        assertThat(DType.fromTorchName("float16")).isEqualTo(DType.F16);
        assertThat(DType.fromTorchName("torch.bfloat16")).isEqualTo(DType.BF16);
        assertThat(DType.fromTorchName("half")).isEqualTo(DType.F16);
        assertThat(DType.fromTorchName("float")).isEqualTo(DType.F32);
        assertThat(DType.fromTorchName("long")).isEqualTo(DType.I64);
        assertThat(DType.fromTorchName("float8_e4m3fn")).isEqualTo(DType.F8_E4M3);
        assertThat(DType.fromTorchName("bf16")).isNull();
        assertThat(DType.fromTorchName("fp16")).isNull();
        assertThat(DType.fromTorchName(null)).isNull();
        assertThat(DType.fromSafetensors("bf16")).isNull();
        assertThat(DType.fromSafetensors("U16")).isNull();
    }

    @Test
    void sizesAndKinds() {
        assertThat(DType.F64.byteSize()).isEqualTo(8);
        assertThat(DType.BF16.byteSize()).isEqualTo(2);
        assertThat(DType.F8_E5M2.byteSize()).isEqualTo(1);
        assertThat(DType.BOOL.byteSize()).isEqualTo(1);
        assertThat(DType.F8_E4M3.isFloatingPoint()).isTrue();
        assertThat(DType.I64.isFloatingPoint()).isFalse();
        assertThat(DType.F8_E4M3.safetensorsName()).isEqualTo("F8_E4M3");
    }
}
