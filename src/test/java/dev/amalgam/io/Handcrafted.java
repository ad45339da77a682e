package dev.amalgam.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors files byte by byte for reader tests, without going through the writer. */
final class Handcrafted {

    private Handcrafted() {
    }

    /** {@code u64 header_len | header | dataBytes zero bytes}. */
    static byte[] bytes(String header, int dataBytes) {
        return bytes(header.getBytes(StandardCharsets.UTF_8), dataBytes);
    }

    static byte[] bytes(byte[] header, int dataBytes) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length);
        b.put(header);
        return b.array();
    }

    static Path write(Path dir, String name, byte[] content) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, content);
        return p;
    }
}
