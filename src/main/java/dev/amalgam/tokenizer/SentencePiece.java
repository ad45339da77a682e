package dev.amalgam.tokenizer;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the pieces of a SentencePiece {@code tokenizer.model} (a {@code ModelProto} protobuf):
 * field 1 is the repeated {@code SentencePiece} message, whose field 1 is the piece text; the
 * id of a piece is its position. Tokenizer stage; only the vocabulary is read, the file itself is
 * carried along verbatim.
 */
final class SentencePiece {

    private static final long MAX_BYTES = 1L << 30;

    private SentencePiece() {
    }

    static List<String> pieces(Path file) {
        byte[] b;
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw bad(file, "larger than 1 GiB", 0);
            }
            b = Files.readAllBytes(file);
        } catch (IOException e) {
            throw AmalgamException.io("cannot read " + file.getFileName() + ": " + e.getMessage(), Where.file(file),
                    null, e);
        }
        List<String> out = new ArrayList<>();
        int[] pos = {0};
        while (pos[0] < b.length) {
            long key = varint(b, pos, file);
            int field = (int) (key >>> 3);
            int wire = (int) (key & 7);
            if (field == 1 && wire == 2) {
                int len = length(b, pos, file);
                out.add(piece(b, pos[0], pos[0] + len, file));
                pos[0] += len;
            } else {
                skip(b, pos, wire, file);
            }
        }
        if (out.isEmpty()) {
            throw bad(file, "no pieces found", 0);
        }
        return out;
    }

    /** The text of one {@code SentencePiece} message (field 1, a string). */
    private static String piece(byte[] b, int start, int end, Path file) {
        int[] pos = {start};
        String text = null;
        while (pos[0] < end) {
            long key = varint(b, pos, file);
            int wire = (int) (key & 7);
            if ((key >>> 3) == 1 && wire == 2) {
                int len = length(b, pos, file);
                if (pos[0] + len > end) {
                    throw bad(file, "a piece runs past its message", pos[0]);
                }
                text = new String(b, pos[0], len, StandardCharsets.UTF_8);
                pos[0] += len;
            } else {
                skip(b, pos, wire, file);
            }
        }
        if (text == null || pos[0] != end) {
            throw bad(file, "a piece without text", start);
        }
        return text;
    }

    private static void skip(byte[] b, int[] pos, int wire, Path file) {
        switch (wire) {
            case 0 -> varint(b, pos, file);
            case 1 -> advance(b, pos, 8, file);
            case 2 -> advance(b, pos, length(b, pos, file), file);
            case 5 -> advance(b, pos, 4, file);
            default -> throw bad(file, "unknown protobuf wire type " + wire, pos[0]);
        }
    }

    private static void advance(byte[] b, int[] pos, int n, Path file) {
        if (n < 0 || pos[0] + (long) n > b.length) {
            throw bad(file, "a field runs past the end of the file", pos[0]);
        }
        pos[0] += n;
    }

    private static int length(byte[] b, int[] pos, Path file) {
        long n = varint(b, pos, file);
        if (n < 0 || pos[0] + n > b.length) {
            throw bad(file, "a field runs past the end of the file", pos[0]);
        }
        return (int) n;
    }

    private static long varint(byte[] b, int[] pos, Path file) {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos[0] >= b.length) {
                throw bad(file, "truncated varint", pos[0]);
            }
            int x = b[pos[0]++] & 0xFF;
            v |= (long) (x & 0x7F) << shift;
            if ((x & 0x80) == 0) {
                return v;
            }
        }
        throw bad(file, "varint longer than 10 bytes", pos[0]);
    }

    private static AmalgamException bad(Path file, String what, long offset) {
        return new AmalgamException(AmalgamException.Kind.INPUT, "cannot parse " + file.getFileName()
                + " as a SentencePiece model: " + what, Where.offset(file, null, offset),
                "restore the file, or load and save the tokenizer once with transformers to get tokenizer.json");
    }
}
