package dev.amalgam.fuzz;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Seeded byte-level mutations of valid inputs, in the manner of AFL's havoc stage: bit flips,
 * random bytes, inserted and deleted runs, splices with another seed, interesting integers at
 * random offsets (1, 2, 4 and 8 bytes, either byte order), truncation, duplicated chunks, tokens
 * from a per-target dictionary (anywhere, or where a value starts in text), decimal numbers
 * swapped for extreme ones, and rewrites of a
 * leading little-endian u64 length (the safetensors header length). One call stacks 1 to 4 of them.
 */
final class Mutator {

    private static final long[] INTERESTING = {
            0, 1, -1, 2, 7, 8, 16, 31, 32, 63, 64, 127, 128, 255, 256, 511, 512, 1000, 1023, 1024, 4095, 4096,
            32767, 32768, 65535, 65536, 100_000_000, 100_000_001, Integer.MAX_VALUE, Integer.MIN_VALUE,
            0xFFFF_FFFFL, 0x1_0000_0000L, Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE / 2};

    private static final String[] NUMBERS = {
            "0", "-0", "1", "-1", "2", "255", "256", "65536", "4294967295", "4294967296", "2147483647", "-2147483648",
            "9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616",
            "99999999999999999999999999", "1e309", "-1e309", "1.5", "0.0", "1e-400", "NaN", "Infinity", "-Infinity",
            ".inf", "-.inf", ".nan", "0x10", "0o17", "1_000", "1e3", "100000000", "100000001"};

    private final SplittableRandom rnd;
    private final List<byte[]> corpus;
    private final List<byte[]> dictionary;
    private final boolean lengthPrefixed;

    /**
     * @param lengthPrefixed whether inputs start with a u64 little-endian length worth rewriting
     */
    Mutator(SplittableRandom rnd, List<byte[]> corpus, List<byte[]> dictionary, boolean lengthPrefixed) {
        this.rnd = rnd;
        this.corpus = corpus;
        this.dictionary = dictionary;
        this.lengthPrefixed = lengthPrefixed;
    }

    /** Dictionary tokens of text formats, as UTF-8. */
    static List<byte[]> utf8(String... tokens) {
        return Arrays.stream(tokens).map(t -> t.getBytes(StandardCharsets.UTF_8)).toList();
    }

    /** Dictionary tokens of binary formats: each char is one byte. */
    static List<byte[]> bytes(String... tokens) {
        return Arrays.stream(tokens).map(t -> t.getBytes(StandardCharsets.ISO_8859_1)).toList();
    }

    /** A mutated copy of a random seed of the corpus. */
    byte[] next() {
        byte[] b = corpus.get(rnd.nextInt(corpus.size())).clone();
        int n = 1 + rnd.nextInt(4);
        for (int i = 0; i < n; i++) {
            b = mutate(b);
        }
        return b;
    }

    byte[] mutate(byte[] b) {
        int op = rnd.nextInt(lengthPrefixed ? 13 : 12);
        return switch (op) {
            case 0 -> flipBit(b);
            case 1 -> setByte(b);
            case 2 -> insertRandom(b);
            case 3 -> delete(b);
            case 4 -> splice(b);
            case 5, 6 -> interestingInteger(b);
            case 7 -> truncate(b);
            case 8 -> duplicate(b);
            case 9 -> dictionary.isEmpty() ? flipBit(b) : insertToken(b);
            case 10 -> dictionary.isEmpty() ? flipBit(b) : insertTokenAtBoundary(b);
            case 11 -> replaceNumber(b);
            default -> rewriteLength(b);
        };
    }

    private int at(byte[] b) {
        return b.length == 0 ? 0 : rnd.nextInt(b.length);
    }

    private byte[] flipBit(byte[] b) {
        if (b.length > 0) {
            int i = at(b);
            b[i] ^= (byte) (1 << rnd.nextInt(8));
        }
        return b;
    }

    private byte[] setByte(byte[] b) {
        if (b.length > 0) {
            b[at(b)] = (byte) rnd.nextInt(256);
        }
        return b;
    }

    private byte[] insertRandom(byte[] b) {
        byte[] ins = new byte[1 + rnd.nextInt(rnd.nextInt(8) == 0 ? 256 : 8)];
        boolean same = rnd.nextBoolean();
        byte v = (byte) rnd.nextInt(256);
        for (int i = 0; i < ins.length; i++) {
            ins[i] = same ? v : (byte) rnd.nextInt(256);
        }
        return insert(b, rnd.nextInt(b.length + 1), ins);
    }

    private static byte[] insert(byte[] b, int pos, byte[] ins) {
        byte[] out = new byte[b.length + ins.length];
        System.arraycopy(b, 0, out, 0, pos);
        System.arraycopy(ins, 0, out, pos, ins.length);
        System.arraycopy(b, pos, out, pos + ins.length, b.length - pos);
        return out;
    }

    private byte[] delete(byte[] b) {
        if (b.length == 0) {
            return b;
        }
        int from = at(b);
        int len = 1 + rnd.nextInt(Math.min(b.length - from, rnd.nextInt(8) == 0 ? 512 : 16));
        byte[] out = new byte[b.length - len];
        System.arraycopy(b, 0, out, 0, from);
        System.arraycopy(b, from + len, out, from, b.length - from - len);
        return out;
    }

    private byte[] splice(byte[] b) {
        byte[] other = corpus.get(rnd.nextInt(corpus.size()));
        if (other.length == 0) {
            return b;
        }
        int cut = rnd.nextInt(b.length + 1);
        int from = rnd.nextInt(other.length);
        int len = rnd.nextInt(other.length - from + 1);
        byte[] out = Arrays.copyOf(b, cut + len);
        System.arraycopy(other, from, out, cut, len);
        return out;
    }

    private byte[] interestingInteger(byte[] b) {
        int width = new int[] {1, 2, 4, 8}[rnd.nextInt(4)];
        if (b.length < width) {
            return b;
        }
        long v = INTERESTING[rnd.nextInt(INTERESTING.length)];
        if (rnd.nextInt(4) == 0) {
            v += rnd.nextInt(5) - 2;
        }
        ByteBuffer bb = ByteBuffer.wrap(b).order(rnd.nextBoolean() ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
        int pos = rnd.nextInt(b.length - width + 1);
        switch (width) {
            case 1 -> bb.put(pos, (byte) v);
            case 2 -> bb.putShort(pos, (short) v);
            case 4 -> bb.putInt(pos, (int) v);
            default -> bb.putLong(pos, v);
        }
        return b;
    }

    private byte[] truncate(byte[] b) {
        return Arrays.copyOf(b, b.length == 0 ? 0 : rnd.nextInt(b.length));
    }

    private byte[] duplicate(byte[] b) {
        if (b.length == 0) {
            return b;
        }
        int from = at(b);
        int len = 1 + rnd.nextInt(Math.min(b.length - from, 64));
        return insert(b, rnd.nextInt(b.length + 1), Arrays.copyOfRange(b, from, from + len));
    }

    private byte[] insertToken(byte[] b) {
        byte[] tok = dictionary.get(rnd.nextInt(dictionary.size()));
        if (rnd.nextBoolean() && b.length >= tok.length) {
            System.arraycopy(tok, 0, b, rnd.nextInt(b.length - tok.length + 1), tok.length);
            return b;
        }
        return insert(b, rnd.nextInt(b.length + 1), tok);
    }

    /**
     * Inserts a dictionary token where a value or an item starts in text (after a space, a colon, a
     * comma, a bracket or a newline), where a token such as a YAML tag changes the meaning of what follows.
     */
    private byte[] insertTokenAtBoundary(byte[] b) {
        byte[] tok = dictionary.get(rnd.nextInt(dictionary.size()));
        for (int tries = 0; tries < 16; tries++) {
            int i = rnd.nextInt(b.length + 1);
            if (i == 0 || " :,[{\n".indexOf(b[i - 1]) >= 0) {
                return insert(b, i, tok);
            }
        }
        return insert(b, rnd.nextInt(b.length + 1), tok);
    }

    /** Replaces a run of ASCII digits (a number in JSON or YAML text) by an extreme number. */
    private byte[] replaceNumber(byte[] b) {
        int start = -1;
        for (int tries = 0; tries < 8 && start < 0; tries++) {
            int i = at(b);
            while (i < b.length && !(b[i] >= '0' && b[i] <= '9')) {
                i++;
            }
            if (i < b.length) {
                start = i;
            }
        }
        if (start < 0) {
            return interestingInteger(b);
        }
        int end = start;
        while (end < b.length && ((b[end] >= '0' && b[end] <= '9') || b[end] == '.' || b[end] == 'e' || b[end] == '-')) {
            end++;
        }
        byte[] num = NUMBERS[rnd.nextInt(NUMBERS.length)].getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[b.length - (end - start) + num.length];
        System.arraycopy(b, 0, out, 0, start);
        System.arraycopy(num, 0, out, start, num.length);
        System.arraycopy(b, end, out, start + num.length, b.length - end);
        return out;
    }

    /** Sets the leading u64 little-endian length to a value near the real one or an extreme. */
    private byte[] rewriteLength(byte[] b) {
        if (b.length < 8) {
            return b;
        }
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        long old = bb.getLong(0);
        long v = switch (rnd.nextInt(5)) {
            case 0 -> old + rnd.nextInt(33) - 16;
            case 1 -> b.length - 8 + rnd.nextInt(5) - 2;
            case 2 -> INTERESTING[rnd.nextInt(INTERESTING.length)];
            case 3 -> rnd.nextLong();
            default -> rnd.nextInt(Math.max(1, b.length));
        };
        bb.putLong(0, v);
        return b;
    }
}
