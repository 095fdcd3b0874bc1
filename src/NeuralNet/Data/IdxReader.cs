using System.Buffers.Binary;
using System.IO.Compression;

namespace NeuralNet.Data;

/// <summary>
/// Reads IDX files (the MNIST distribution format), raw or gzip-compressed, with full validation.
/// </summary>
/// <remarks>
/// <para>Format: a 4-byte big-endian magic <c>0x0000TTDD</c> where <c>TT</c> is the element type (only <c>0x08</c>,
/// unsigned byte, is supported) and <c>DD</c> the number of dimensions; then <c>DD</c> big-endian 32-bit sizes; then the
/// elements, row-major. MNIST images use magic <c>0x00000803</c> (count, rows, columns), labels <c>0x00000801</c> (count).</para>
/// <para>Gzip is detected by its magic bytes <c>1F 8B</c>, not by the file name.</para>
/// <para>The header is never trusted for allocation: the claimed size is first checked against a cap
/// (<c>maxBytes</c>, 1 GiB by default) and, for raw files, against the real file length. Gzip streams, whose
/// decompressed length is unknown, are read into a buffer that grows only as data actually arrives. A header claiming
/// 10^12 elements therefore fails at once with <see cref="InvalidDataException"/>.</para>
/// <para>Every error is an <see cref="InvalidDataException"/> whose message names the file and the byte offset
/// (in the decompressed stream for gzip files).</para>
/// </remarks>
public static class IdxReader
{
    /// <summary>The magic number of an IDX file of unsigned-byte images (count, rows, columns).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>The magic number of an IDX file of unsigned-byte labels (count).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>The default cap on the data size a header may claim: 1 GiB.</summary>
    public const long DefaultMaxBytes = 1L << 30;

    private const int InitialGzipBuffer = 1 << 20;

    /// <summary>Reads an IDX file of unsigned bytes with any number of dimensions.</summary>
    /// <param name="path">The file, raw or gzipped.</param>
    /// <param name="maxBytes">The largest data size accepted, in bytes.</param>
    /// <exception cref="InvalidDataException">The file is malformed, truncated, has trailing bytes or claims more than <paramref name="maxBytes"/>.</exception>
    public static IdxArray Read(string path, long maxBytes = DefaultMaxBytes) => Read(path, expectedMagic: null, maxBytes);

    /// <summary>Reads an MNIST-style image file (magic <c>0x00000803</c>).</summary>
    /// <param name="path">The file, raw or gzipped.</param>
    /// <param name="maxBytes">The largest data size accepted, in bytes.</param>
    /// <exception cref="InvalidDataException">Wrong magic, bad dimensions, truncated or trailing data.</exception>
    public static IdxArray ReadImages(string path, long maxBytes = DefaultMaxBytes) => Read(path, ImagesMagic, maxBytes);

    /// <summary>Reads an MNIST-style label file (magic <c>0x00000801</c>).</summary>
    /// <param name="path">The file, raw or gzipped.</param>
    /// <param name="maxBytes">The largest data size accepted, in bytes.</param>
    /// <exception cref="InvalidDataException">Wrong magic, truncated or trailing data.</exception>
    public static IdxArray ReadLabels(string path, long maxBytes = DefaultMaxBytes) => Read(path, LabelsMagic, maxBytes);

    /// <summary>Reads IDX content from a stream (raw or gzipped), checking the magic when <paramref name="expectedMagic"/> is given.</summary>
    /// <param name="stream">The content; it is read to its end but not closed.</param>
    /// <param name="source">A name for messages, usually the path.</param>
    /// <param name="expectedMagic"><see cref="ImagesMagic"/>, <see cref="LabelsMagic"/>, or null to accept any unsigned-byte IDX.</param>
    /// <param name="maxBytes">The largest data size accepted, in bytes.</param>
    /// <exception cref="InvalidDataException">The content is malformed; the message names <paramref name="source"/> and the offset.</exception>
    public static IdxArray Read(Stream stream, string source, int? expectedMagic = null, long maxBytes = DefaultMaxBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);

        // Peek two bytes for the gzip signature; a seekable stream is rewound, otherwise they are replayed.
        Span<byte> sig = stackalloc byte[2];
        int got = stream.ReadAtLeast(sig, 2, throwOnEndOfStream: false);
        Stream input;
        long? rawRemaining = null;
        if (stream.CanSeek)
        {
            stream.Seek(-got, SeekOrigin.Current);
            input = stream;
            rawRemaining = stream.Length - stream.Position;
        }
        else
        {
            input = new PrefixedStream(sig[..got].ToArray(), stream);
        }
        bool gzip = got == 2 && sig[0] == 0x1F && sig[1] == 0x8B;
        if (gzip)
        {
            // The compressed bytes are kept: the end of the gzip data and a damaged trailer can only be judged on them.
            byte[] compressed = ReadCompressed(input, source, maxBytes, rawRemaining);
            using var gz = new GZipStream(new MemoryStream(compressed, writable: false), CompressionMode.Decompress);
            var result = ReadContent(gz, source + " (gzip, decompressed)", expectedMagic, maxBytes, knownLength: null, compressed, maxBytes);
            CheckGzipEnd(compressed, result, source);
            return result;
        }
        return ReadContent(input, source, expectedMagic, maxBytes, rawRemaining, gzipBytes: null, maxBytes);
    }

    private static byte[] ReadCompressed(Stream input, string source, long maxBytes, long? knownLength)
    {
        if (knownLength is long length)
        {
            if (length > maxBytes || length > Array.MaxLength)
                throw Bad(source, $"the gzip file is {length} bytes, more than the limit (maxBytes = {maxBytes}).");
            var bytes = new byte[length];
            input.ReadExactly(bytes);
            return bytes;
        }
        var copy = new MemoryStream();
        var chunk = new byte[1 << 16];
        int n;
        while ((n = input.Read(chunk)) > 0)
        {
            copy.Write(chunk, 0, n);
            if (copy.Length > maxBytes)
                throw Bad(source, $"the gzip stream is longer than the limit (maxBytes = {maxBytes}).");
        }
        return copy.ToArray();
    }

    /// <summary>
    /// Rejects bytes after the gzip data. The decompressor stops at the end of the last member and ignores anything
    /// that does not start another member, so the end is checked here: the file must end with the trailer (CRC-32 and
    /// length) of the content just read, or, for several members (RFC 1952), of its last part.
    /// </summary>
    private static void CheckGzipEnd(byte[] compressed, IdxArray content, string source)
    {
        byte[] header = ContentHeader(content);
        long length = header.Length + (long)content.Data.Length;
        uint crc = Crc32.Append(Crc32.Append(0, header), content.Data);
        Span<byte> trailer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, crc);
        BinaryPrimitives.WriteUInt32LittleEndian(trailer[4..], (uint)length);
        if (compressed.AsSpan().EndsWith(trailer)) return;
        int at = compressed.AsSpan().LastIndexOf(trailer);
        if (at >= 0)
            throw Bad(source, $"{compressed.Length - at - 8} trailing bytes after the gzip member, from byte {at + 8} of the file.");
        if (compressed.Length >= 18)
        {
            uint lastCrc = BinaryPrimitives.ReadUInt32LittleEndian(compressed.AsSpan(compressed.Length - 8));
            uint lastLength = BinaryPrimitives.ReadUInt32LittleEndian(compressed.AsSpan(compressed.Length - 4));
            if (lastLength <= length && SuffixCrc(header, content.Data, lastLength) == lastCrc) return;
        }
        throw Bad(source, "trailing bytes after the last gzip member: the file does not end with the trailer of the data it holds.");
    }

    private static uint SuffixCrc(byte[] header, byte[] data, long count)
    {
        if (count <= data.Length) return Crc32.Append(0, data.AsSpan(data.Length - (int)count));
        return Crc32.Append(Crc32.Append(0, header.AsSpan(header.Length - (int)(count - data.Length))), data);
    }

    private static byte[] ContentHeader(IdxArray content)
    {
        var dims = content.Dimensions;
        var header = new byte[4 + 4 * dims.Length];
        header[2] = 0x08;
        header[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dims[i]);
        return header;
    }

    /// <summary>
    /// Explains a decompression failure. The runtime's decompressor reports a bad CRC-32 like any other damage (as an
    /// unsupported compression method), so the member is inflated again without checks and its trailer compared here.
    /// </summary>
    private static string DiagnoseGzip(byte[] compressed, long offset, long maxBytes, InvalidDataException e)
    {
        string generic = $"the gzip stream is corrupt near decompressed offset {offset}: {e.Message}";
        int start = GzipHeaderLength(compressed);
        if (start < 0) return generic;
        if (compressed[2] != 8)
            return $"the gzip header at byte 2 names compression method {compressed[2]}; only 8 (deflate) exists.";
        uint crc = 0;
        long size = 0;
        try
        {
            using var inflate = new DeflateStream(new MemoryStream(compressed, start, compressed.Length - start, writable: false), CompressionMode.Decompress);
            var chunk = new byte[1 << 16];
            int n;
            while ((n = inflate.Read(chunk)) > 0)
            {
                crc = Crc32.Append(crc, chunk.AsSpan(0, n));
                size += n;
                if (size > maxBytes + 1024) return generic;
            }
        }
        catch (InvalidDataException)
        {
            return $"the deflate data of the gzip stream is corrupt near decompressed offset {offset}.";
        }
        // The trailer follows the deflate data: CRC-32, then the length modulo 2^32.
        Span<byte> isize = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(isize, (uint)size);
        int at = compressed.AsSpan(start).LastIndexOf(isize);
        if (at >= 4)
        {
            int trailer = start + at - 4;
            uint stored = BinaryPrimitives.ReadUInt32LittleEndian(compressed.AsSpan(trailer));
            if (stored != crc)
                return $"CRC-32 mismatch: the gzip trailer at byte {trailer} of the file records 0x{stored:x8} but the {size} decompressed bytes hash to 0x{crc:x8}; the file is corrupt.";
        }
        return generic;
    }

    /// <summary>The length of a gzip member header (RFC 1952 section 2.3), or -1 when it is cut short.</summary>
    private static int GzipHeaderLength(byte[] b)
    {
        if (b.Length < 10) return -1;
        int flags = b[3], p = 10;
        if ((flags & 4) != 0)
        {
            if (p + 2 > b.Length) return -1;
            p += 2 + BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(p));
        }
        for (int bit = 8; bit <= 16; bit <<= 1)
        {
            if ((flags & bit) == 0) continue;
            while (p < b.Length && b[p] != 0) p++;
            p++;
        }
        if ((flags & 2) != 0) p += 2;
        return p <= b.Length ? p : -1;
    }

    private static IdxArray Read(string path, int? expectedMagic, long maxBytes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"IdxReader: '{path}' does not exist.", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(stream, path, expectedMagic, maxBytes);
    }

    private static IdxArray ReadContent(Stream s, string source, int? expectedMagic, long maxBytes, long? knownLength, byte[]? gzipBytes, long limit)
    {
        var compressed = new GzipSource(gzipBytes, limit);
        Span<byte> head = stackalloc byte[4];
        ReadExactly(s, head, 0, source, compressed, "the 4-byte magic number");
        int magic = BinaryPrimitives.ReadInt32BigEndian(head);
        if (expectedMagic is int want && magic != want)
            throw Bad(source, $"wrong magic number 0x{magic:X8} at offset 0; expected 0x{want:X8} ({(want == ImagesMagic ? "unsigned-byte images, 3 dimensions" : want == LabelsMagic ? "unsigned-byte labels, 1 dimension" : "IDX")}).");
        if (head[0] != 0 || head[1] != 0)
            throw Bad(source, $"wrong magic number 0x{magic:X8} at offset 0; an IDX file starts with two zero bytes.");
        if (head[2] != 0x08)
            throw Bad(source, $"element type 0x{head[2]:X2} at offset 2 is not supported; only 0x08 (unsigned byte) is.");
        int rank = head[3];
        if (rank < 1)
            throw Bad(source, "the header at offset 3 declares 0 dimensions.");

        var dimBytes = new byte[4 * rank];
        ReadExactly(s, dimBytes, 4, source, compressed, $"the {rank} dimension sizes");
        var dims = new int[rank];
        long total = 1;
        for (int i = 0; i < rank; i++)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(dimBytes.AsSpan(4 * i));
            if (d < 1 || d > int.MaxValue)
                throw Bad(source, $"dimension {i} at offset {4 + 4 * i} is {d}; it must be between 1 and {int.MaxValue}.");
            dims[i] = (int)d;
            total *= d;
            // Checked per factor so a product of several large sizes cannot overflow before the test.
            if (total > maxBytes || total > Array.MaxLength)
                throw Bad(source, $"the header claims {FormatDims(dimBytes, rank)} = more than {Math.Min(maxBytes, Array.MaxLength)} bytes of data, over the limit (maxBytes = {maxBytes}); the file is corrupt or hostile.");
        }
        long headerLength = 4 + 4L * rank;
        if (knownLength is long length)
        {
            long remaining = length - headerLength;
            if (remaining < total)
                throw Bad(source, $"truncated: the header claims {FormatDims(dimBytes, rank)} = {total} bytes of data from offset {headerLength}, but the file ends at offset {length} ({remaining} bytes of data).");
            if (remaining > total)
                throw Bad(source, $"{remaining - total} unexpected trailing bytes after the {total} bytes of data, from offset {headerLength + total}.");
            var data = new byte[total];
            ReadExactly(s, data, headerLength, source, compressed, "the data");
            return new IdxArray(dims, data, source);
        }

        // Unknown length (gzip): grow the buffer only as bytes arrive.
        var buffer = new byte[Math.Min(total, InitialGzipBuffer)];
        long filled = 0;
        while (filled < total)
        {
            if (filled == buffer.Length)
                Array.Resize(ref buffer, (int)Math.Min(total, 2L * buffer.Length));
            int n = ReadSome(s, buffer.AsSpan((int)filled), headerLength + filled, source, compressed);
            if (n == 0)
                throw Bad(source, $"truncated: the header claims {FormatDims(dimBytes, rank)} = {total} bytes of data from offset {headerLength}, but the data ends at offset {headerLength + filled}.");
            filled += n;
        }
        // One byte more is all that is inflated past the declared size, however much more the stream would yield.
        Span<byte> probe = stackalloc byte[1];
        if (ReadSome(s, probe, headerLength + total, source, compressed) != 0)
            throw Bad(source, gzipBytes is null
                ? $"unexpected trailing bytes after the {total} bytes of data, from offset {headerLength + total}."
                : $"the gzip data holds more data than the header's {total} bytes: trailing bytes from offset {headerLength + total}; inflating stopped there.");
        return new IdxArray(dims, buffer, source);
    }

    /// <summary>The compressed bytes behind a decompressed stream (null for raw files), kept to explain failures.</summary>
    private readonly record struct GzipSource(byte[]? Bytes, long MaxBytes);

    private static void ReadExactly(Stream s, Span<byte> destination, long offset, string source, GzipSource compressed, string what)
    {
        int filled = 0;
        while (filled < destination.Length)
        {
            int n = ReadSome(s, destination[filled..], offset + filled, source, compressed);
            if (n == 0)
                throw Bad(source, $"truncated: the file ends at offset {offset + filled} while reading {what} ({destination.Length} bytes from offset {offset}).");
            filled += n;
        }
    }

    private static int ReadSome(Stream s, Span<byte> destination, long offset, string source, GzipSource compressed)
    {
        try
        {
            return s.Read(destination);
        }
        catch (InvalidDataException e) when (compressed.Bytes is not null)
        {
            // The decompressor's own message names neither the file nor the position, nor a CRC failure as such.
            throw Bad(source, DiagnoseGzip(compressed.Bytes, offset, compressed.MaxBytes, e), e);
        }
    }

    private static string FormatDims(byte[] dimBytes, int rank)
    {
        var parts = new string[rank];
        for (int i = 0; i < rank; i++)
            parts[i] = BinaryPrimitives.ReadUInt32BigEndian(dimBytes.AsSpan(4 * i)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return string.Join(" × ", parts);
    }

    private static InvalidDataException Bad(string source, string detail, Exception? inner = null) => new($"{source}: {detail}", inner);

    /// <summary>Replays a few already-consumed bytes before the rest of a non-seekable stream.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream inner) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            if (_position < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - _position);
                prefix.AsSpan(_position, n).CopyTo(buffer);
                _position += n;
                return n;
            }
            return inner.Read(buffer);
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
