package dev.amalgam.io;

import dev.amalgam.error.AmalgamException;
import dev.amalgam.error.Where;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The central directory of a zip file that is already memory-mapped, as PyTorch writes it: the
 * I/O stage's zip reader for {@link TorchCheckpoint}. It finds every entry's name, compression
 * method, sizes and the file offset of its data (through the local header), so a STORED entry can
 * be sliced out of the mapping without copying. ZIP64 is understood (checkpoints over 4 GiB);
 * multi-disk archives, encryption and duplicate names are refused. Every check is against the
 * mapping's size with overflow-proof arithmetic, and every error names the file and byte offset.
 *
 * <p>Layout read, from the end: {@code end of central directory} (optionally preceded by the
 * {@code zip64 end of central directory locator} and its record), the {@code central directory}
 * entries, and for each entry its {@code local file header}.
 */
final class ZipArchive {

    /** Compression methods. */
    static final int STORED = 0;
    static final int DEFLATED = 8;

    /** Most entries read: a checkpoint has one per storage, a few thousand at most. */
    static final int MAX_ENTRIES = 1_000_000;

    private static final int EOCD_SIG = 0x06054b50;
    private static final int ZIP64_LOCATOR_SIG = 0x07064b50;
    private static final int ZIP64_EOCD_SIG = 0x06064b50;
    private static final int CENTRAL_SIG = 0x02014b50;
    private static final int LOCAL_SIG = 0x04034b50;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * One entry.
     *
     * @param name           entry name, as stored
     * @param method         compression method ({@link #STORED}, {@link #DEFLATED}, ...)
     * @param crc            CRC-32 of the uncompressed data
     * @param compressedSize bytes of stored data
     * @param size           bytes once uncompressed
     * @param headerOffset   file offset of the local header
     * @param dataOffset     file offset of the first data byte
     */
    record Entry(String name, int method, long crc, long compressedSize, long size, long headerOffset, long dataOffset) {
    }

    private final Path path;
    private final MemorySegment file;
    private final Map<String, Entry> entries;

    private ZipArchive(Path path, MemorySegment file, Map<String, Entry> entries) {
        this.path = path;
        this.file = file;
        this.entries = entries;
    }

    /** Reads the central directory of {@code file} (the whole mapped zip file). */
    static ZipArchive read(Path path, MemorySegment file) {
        long size = file.byteSize();
        // end of central directory: 22 bytes + a comment of up to 65535 bytes, at the very end
        long eocd = -1;
        for (long at = size - 22; at >= 0 && at >= size - 22 - 0xFFFF; at--) {
            if (file.get(U32, at) == EOCD_SIG && at + 22 + u16(file, at + 20) == size) {
                eocd = at;
                break;
            }
        }
        if (eocd < 0) {
            throw corrupt(path, Math.max(0, size - 22), "no zip end-of-central-directory record",
                    "the file is truncated or is not a zip file; download it again");
        }
        // u32 sig | u16 disk | u16 cd_disk | u16 entries_on_disk | u16 entries | u32 cd_size | u32 cd_offset | u16 comment_len
        int disk = u16(file, eocd + 4);
        int cdDisk = u16(file, eocd + 6);
        long entriesOnDisk = u16(file, eocd + 8);
        long count = u16(file, eocd + 10);
        long cdSize = u32(file, eocd + 12);
        long cdOffset = u32(file, eocd + 16);
        long cdLimit = eocd;
        if (count == 0xFFFF || entriesOnDisk == 0xFFFF || cdSize == 0xFFFF_FFFFL || cdOffset == 0xFFFF_FFFFL) {
            // zip64 locator, 20 bytes before the EOCD: u32 sig | u32 disk | u64 zip64_eocd_offset | u32 disks
            long loc = eocd - 20;
            if (loc < 0 || file.get(U32, loc) != ZIP64_LOCATOR_SIG) {
                throw corrupt(path, eocd, "the end-of-central-directory record asks for ZIP64 but there is no ZIP64 locator",
                        "the file is truncated or corrupt; download it again");
            }
            long z = file.get(U64, loc + 8);
            // zip64 EOCD: u32 sig | u64 size | u16 made_by | u16 needed | u32 disk | u32 cd_disk
            //             | u64 entries_on_disk | u64 entries | u64 cd_size | u64 cd_offset
            if (z < 0 || z > loc - 56 || file.get(U32, z) != ZIP64_EOCD_SIG) {
                throw corrupt(path, loc, "the ZIP64 locator points to byte " + Long.toUnsignedString(z)
                        + ", which is not a ZIP64 end-of-central-directory record", "the file is corrupt; download it again");
            }
            disk = file.get(U32, z + 16);
            cdDisk = file.get(U32, z + 20);
            entriesOnDisk = file.get(U64, z + 24);
            count = file.get(U64, z + 32);
            cdSize = file.get(U64, z + 40);
            cdOffset = file.get(U64, z + 48);
            cdLimit = z;
        }
        if (disk != 0 || cdDisk != 0 || entriesOnDisk != count) {
            throw corrupt(path, eocd, "multi-disk (split) zip archives are not supported",
                    "join the parts into one file");
        }
        if (count < 0 || count > MAX_ENTRIES) {
            throw corrupt(path, eocd, "the zip archive claims " + Long.toUnsignedString(count) + " entries, more than the limit of "
                    + MAX_ENTRIES, "the file is corrupt or hostile");
        }
        if (cdOffset < 0 || cdSize < 0 || cdOffset > cdLimit || cdSize > cdLimit - cdOffset) {
            throw corrupt(path, eocd, String.format(Locale.ROOT,
                            "the central directory [%s, +%s) lies outside the file's %d bytes before the end record",
                            Long.toUnsignedString(cdOffset), Long.toUnsignedString(cdSize), cdLimit),
                    "the file is truncated or corrupt; download it again");
        }

        if (count > cdSize / 46) {
            throw corrupt(path, eocd, String.format(Locale.ROOT,
                            "the central directory of %d bytes cannot hold the %d entries it claims", cdSize, count),
                    "the file is truncated or corrupt; download it again");
        }

        Map<String, Entry> entries = LinkedHashMap.newLinkedHashMap((int) count);
        long at = cdOffset;
        long cdEnd = cdOffset + cdSize;
        for (long i = 0; i < count; i++) {
            Entry e = centralEntry(path, file, at, cdEnd);
            if (entries.putIfAbsent(e.name(), e) != null) {
                throw corrupt(path, at, "zip entry '" + e.name() + "' appears twice", "the file is corrupt or hostile");
            }
            at += 46 + u16(file, at + 28) + u16(file, at + 30) + u16(file, at + 32);
        }
        // entries may not overlap each other or the central directory
        List<Entry> byOffset = new ArrayList<>(entries.values());
        byOffset.sort(Comparator.comparingLong(Entry::headerOffset));
        long free = 0;
        for (Entry e : byOffset) {
            if (e.headerOffset() < free) {
                throw corrupt(path, e.headerOffset(), "zip entry '" + e.name() + "' overlaps the entry before it",
                        "the file is corrupt or hostile");
            }
            free = e.dataOffset() + e.compressedSize();
            if (free > cdOffset) {
                throw corrupt(path, e.dataOffset(), String.format(Locale.ROOT,
                                "zip entry '%s' (data [%d, %d)) runs into the central directory at byte %d",
                                e.name(), e.dataOffset(), free, cdOffset),
                        "the file is truncated or corrupt; download it again");
            }
        }
        return new ZipArchive(path, file, Collections.unmodifiableMap(entries));
    }

    private static Entry centralEntry(Path path, MemorySegment file, long at, long cdEnd) {
        // u32 sig | u16 made_by | u16 needed | u16 flags | u16 method | u16 time | u16 date | u32 crc
        // | u32 csize | u32 size | u16 name_len | u16 extra_len | u16 comment_len | u16 disk
        // | u16 internal | u32 external | u32 local_header_offset | name | extra | comment
        if (at > cdEnd - 46 || file.get(U32, at) != CENTRAL_SIG) {
            throw corrupt(path, at, "central directory entry expected at byte " + at, "the file is corrupt; download it again");
        }
        int flags = u16(file, at + 8);
        int method = u16(file, at + 10);
        long crc = u32(file, at + 16);
        long csize = u32(file, at + 20);
        long size = u32(file, at + 24);
        int nameLen = u16(file, at + 28);
        int extraLen = u16(file, at + 30);
        int commentLen = u16(file, at + 32);
        int entryDisk = u16(file, at + 34);
        long lho = u32(file, at + 42);
        if (at + 46 + nameLen + extraLen + commentLen > cdEnd) {
            throw corrupt(path, at, "central directory entry runs past the end of the central directory",
                    "the file is corrupt; download it again");
        }
        String name = utf8(path, file, at + 46, nameLen);
        if ((flags & 1) != 0) {
            throw corrupt(path, at, "zip entry '" + name + "' is encrypted", "a checkpoint is never encrypted; the file is not a torch checkpoint");
        }
        // extra fields: u16 id | u16 len | data; id 0x0001 is ZIP64: the fields that are 0xFFFFFFFF, in order
        long x = at + 46 + nameLen;
        long xEnd = x + extraLen;
        while (x + 4 <= xEnd) {
            int id = u16(file, x);
            int len = u16(file, x + 2);
            long d = x + 4;
            long de = d + len;
            if (de > xEnd) {
                throw corrupt(path, x, "extra field of zip entry '" + name + "' runs past its end", "the file is corrupt");
            }
            if (id == 0x0001) {
                if (size == 0xFFFF_FFFFL) {
                    size = zip64Field(path, file, d, de, name);
                    d += 8;
                }
                if (csize == 0xFFFF_FFFFL) {
                    csize = zip64Field(path, file, d, de, name);
                    d += 8;
                }
                if (lho == 0xFFFF_FFFFL) {
                    lho = zip64Field(path, file, d, de, name);
                    d += 8;
                }
                if (entryDisk == 0xFFFF && d + 4 <= de) {
                    entryDisk = file.get(U32, d);
                }
            }
            x = de;
        }
        if (entryDisk != 0) {
            throw corrupt(path, at, "zip entry '" + name + "' lies on another disk", "join the parts into one file");
        }
        if (csize < 0 || size < 0 || lho < 0 || lho > file.byteSize() - 30) {
            throw corrupt(path, at, String.format(Locale.ROOT, "zip entry '%s' has its local header at byte %s, outside the file",
                    name, Long.toUnsignedString(lho)), "the file is truncated or corrupt; download it again");
        }
        // local header: u32 sig | u16 needed | u16 flags | u16 method | u16 time | u16 date | u32 crc
        //               | u32 csize | u32 size | u16 name_len | u16 extra_len | name | extra
        if (file.get(U32, lho) != LOCAL_SIG) {
            throw corrupt(path, lho, "zip entry '" + name + "' has no local header at byte " + lho, "the file is corrupt; download it again");
        }
        int localMethod = u16(file, lho + 8);
        int localNameLen = u16(file, lho + 26);
        int localExtraLen = u16(file, lho + 28);
        long data = lho + 30 + localNameLen + localExtraLen;
        if (data > file.byteSize() || localNameLen != nameLen || !utf8(path, file, lho + 30, localNameLen).equals(name)) {
            throw corrupt(path, lho, "the local header of zip entry '" + name + "' disagrees with the central directory",
                    "the file is corrupt; download it again");
        }
        if (localMethod != method) {
            throw corrupt(path, lho, "zip entry '" + name + "' has method " + localMethod + " in its local header but "
                    + method + " in the central directory", "the file is corrupt; download it again");
        }
        if (csize > file.byteSize() - data) {
            throw corrupt(path, data, String.format(Locale.ROOT, "zip entry '%s' needs bytes [%d, %d) but the file has %d",
                    name, data, data + csize, file.byteSize()), "the file is truncated; download it again");
        }
        if (method == STORED && csize != size) {
            throw corrupt(path, at, String.format(Locale.ROOT, "stored zip entry '%s' has %d stored bytes but a size of %d",
                    name, csize, size), "the file is corrupt; download it again");
        }
        return new Entry(name, method, crc, csize, size, lho, data);
    }

    private static long zip64Field(Path path, MemorySegment file, long d, long end, String name) {
        if (d + 8 > end) {
            throw corrupt(path, d, "the ZIP64 extra field of zip entry '" + name + "' is too short", "the file is corrupt");
        }
        return file.get(U64, d);
    }

    private static String utf8(Path path, MemorySegment file, long at, int len) {
        byte[] b = file.asSlice(at, len).toArray(ValueLayout.JAVA_BYTE);
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw corrupt(path, at, "zip entry name is not valid UTF-8", "the file is corrupt or not a torch checkpoint");
        }
    }

    private static int u16(MemorySegment f, long at) {
        return f.get(U16, at) & 0xFFFF;
    }

    private static long u32(MemorySegment f, long at) {
        return f.get(U32, at) & 0xFFFF_FFFFL;
    }

    static AmalgamException corrupt(Path path, long offset, String message, String hint) {
        return AmalgamException.input(message, Where.offset(path, null, offset), hint);
    }

    /** Entries by name, in central-directory order. */
    Map<String, Entry> entries() {
        return entries;
    }

    Entry entry(String name) {
        return entries.get(name);
    }

    /** The stored bytes of a STORED entry, as a slice of the mapping. */
    MemorySegment stored(Entry e) {
        return file.asSlice(e.dataOffset(), e.compressedSize());
    }

    /**
     * The uncompressed bytes of a STORED or DEFLATED entry, at most {@code limit} bytes, with the
     * CRC-32 checked.
     */
    byte[] readAll(Entry e, long limit) {
        if (e.size() > limit) {
            throw corrupt(path, e.headerOffset(), String.format(Locale.ROOT, "zip entry '%s' is %d bytes, over the limit of %d",
                    e.name(), e.size(), limit), "the file is corrupt or hostile");
        }
        byte[] out;
        if (e.method() == STORED) {
            out = stored(e).toArray(ValueLayout.JAVA_BYTE);
        } else if (e.method() == DEFLATED) {
            // grow the buffer as the data inflates, so a false size claims no memory up front; one
            // byte more than the size is room to notice data beyond it
            long cap = e.size() + 1;
            byte[] buf = new byte[(int) Math.min(cap, 1 << 16)];
            int n = 0;
            Inflater inf = new Inflater(true);
            try {
                inf.setInput(stored(e).asByteBuffer());
                while (!inf.finished() && n < cap) {
                    if (n == buf.length) {
                        buf = Arrays.copyOf(buf, (int) Math.min(cap, 2L * buf.length));
                    }
                    int k = inf.inflate(buf, n, buf.length - n);
                    if (k == 0 && (inf.needsInput() || inf.needsDictionary())) {
                        break;
                    }
                    n += k;
                }
                if (n > e.size()) {
                    throw corrupt(path, e.dataOffset(), "deflated zip entry '" + e.name() + "' inflates to more than its "
                            + e.size() + " bytes", "the file is corrupt or hostile");
                }
                if (n != e.size() || !inf.finished()) {
                    throw corrupt(path, e.dataOffset(), "deflated zip entry '" + e.name() + "' does not inflate to its "
                            + e.size() + " bytes", "the file is corrupt; download it again");
                }
            } catch (DataFormatException ex) {
                throw corrupt(path, e.dataOffset(), "deflated zip entry '" + e.name() + "' is corrupt: " + ex.getMessage(),
                        "the file is corrupt; download it again");
            } finally {
                inf.end();
            }
            out = Arrays.copyOf(buf, n);
        } else {
            throw corrupt(path, e.headerOffset(), "zip entry '" + e.name() + "' uses compression method " + e.method()
                    + "; only stored (0) and deflated (8) are read", "re-save the checkpoint with torch.save");
        }
        CRC32 crc = new CRC32();
        crc.update(out);
        if (crc.getValue() != e.crc()) {
            throw corrupt(path, e.dataOffset(), String.format(Locale.ROOT, "zip entry '%s' fails its CRC-32 check (%08x, expected %08x)",
                    e.name(), crc.getValue(), e.crc()), "the file is corrupt; download it again");
        }
        return out;
    }
}
