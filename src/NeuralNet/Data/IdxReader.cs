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
            using var gz = new GZipStream(input, CompressionMode.Decompress, leaveOpen: true);
            return ReadContent(gz, source + " (gzip, decompressed)", expectedMagic, maxBytes, knownLength: null, compressed: true);
        }
        return ReadContent(input, source, expectedMagic, maxBytes, rawRemaining, compressed: false);
    }

    private static IdxArray Read(string path, int? expectedMagic, long maxBytes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"IdxReader: '{path}' does not exist.", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(stream, path, expectedMagic, maxBytes);
    }

    private static IdxArray ReadContent(Stream s, string source, int? expectedMagic, long maxBytes, long? knownLength, bool compressed)
    {
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
        Span<byte> probe = stackalloc byte[1];
        if (ReadSome(s, probe, headerLength + total, source, compressed) != 0)
            throw Bad(source, $"unexpected trailing bytes after the {total} bytes of data, from offset {headerLength + total}.");
        return new IdxArray(dims, buffer, source);
    }

    private static void ReadExactly(Stream s, Span<byte> destination, long offset, string source, bool compressed, string what)
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

    private static int ReadSome(Stream s, Span<byte> destination, long offset, string source, bool compressed)
    {
        try
        {
            return s.Read(destination);
        }
        catch (InvalidDataException e) when (compressed)
        {
            // The decompressor's own message names neither the file nor the position.
            throw Bad(source, $"the gzip stream is corrupt near decompressed offset {offset}: {e.Message}", e);
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
