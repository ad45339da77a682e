package dev.amalgam.io;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class PyJsonTest {

    @Test
    void floatsAreWrittenAsPythonRepr() {
        assertThat(PyJson.pyFloat(1e-5)).isEqualTo("1e-05");
        assertThat(PyJson.pyFloat(1e-6)).isEqualTo("1e-06");
        assertThat(PyJson.pyFloat(10000.0)).isEqualTo("10000.0");
        assertThat(PyJson.pyFloat(0.0)).isEqualTo("0.0");
        assertThat(PyJson.pyFloat(-0.0)).isEqualTo("-0.0");
        assertThat(PyJson.pyFloat(0.02)).isEqualTo("0.02");
        assertThat(PyJson.pyFloat(0.0001)).isEqualTo("0.0001");
        assertThat(PyJson.pyFloat(1e16)).isEqualTo("1e+16");
        assertThat(PyJson.pyFloat(1e15)).isEqualTo("1000000000000000.0");
        assertThat(PyJson.pyFloat(1000000.0)).isEqualTo("1000000.0");
        assertThat(PyJson.pyFloat(1.5e-7)).isEqualTo("1.5e-07");
        assertThat(PyJson.pyFloat(123.456)).isEqualTo("123.456");
        assertThat(PyJson.pyFloat(-2.5e100)).isEqualTo("-2.5e+100");
        assertThat(PyJson.pyFloat(Double.NaN)).isEqualTo("NaN");
    }

    @Test
    void layoutMatchesJsonDumpsIndent2() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("a", List.of(1, 2));
        m.put("b", Map.of());
        m.put("c", List.of());
        m.put("d", null);
        m.put("e", "é\n\"");
        assertThat(PyJson.dumps(m, true)).isEqualTo("""
                {
                  "a": [
                    1,
                    2
                  ],
                  "b": {},
                  "c": [],
                  "d": null,
                  "e": "\\u00e9\\n\\""
                }""");
        assertThat(PyJson.dumps("é", false)).isEqualTo("\"é\"");
    }
}
