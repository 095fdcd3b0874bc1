using System.Buffers.Binary;
using System.IO.Compression;

namespace MnistSample.Report;

/// <summary>
/// A minimal PNG writer (8-bit grey or RGB, no interlace, filter 0) for the report's inline images, so the sample
/// needs no image library. Deflate comes from <see cref="ZLibStream"/>; the chunk CRC-32 is computed here.
/// </summary>
public static class PngEncoder
{
    private static readonly uint[] CrcTable = BuildCrcTable();

    /// <summary>Encodes an 8-bit greyscale image.</summary>
    /// <param name="grey">Width·height levels, row-major, 0 = black.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="height">Image height in pixels.</param>
    public static byte[] EncodeGrey(ReadOnlySpan<byte> grey, int width, int height) => Encode(grey, width, height, colorType: 0, channels: 1);

    /// <summary>Encodes an 8-bit RGB image.</summary>
    /// <param name="rgb">Width·height·3 bytes, row-major, R G B per pixel.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="height">Image height in pixels.</param>
    public static byte[] EncodeRgb(ReadOnlySpan<byte> rgb, int width, int height) => Encode(rgb, width, height, colorType: 2, channels: 3);

    /// <summary>A <c>data:image/png;base64,…</c> URI for an image.</summary>
    public static string ToDataUri(byte[] png) => "data:image/png;base64," + Convert.ToBase64String(png);

    private static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, byte colorType, int channels)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"PNG size must be positive, got {width}×{height}.");
        int stride = width * channels;
        if (pixels.Length != stride * height)
            throw new ArgumentException($"PNG of {width}×{height}×{channels} needs {stride * height} bytes, got {pixels.Length}.", nameof(pixels));

        var raw = new byte[(stride + 1) * height];
        for (int y = 0; y < height; y++)
        {
            raw[y * (stride + 1)] = 0; // filter type None: the images are tiny, so compression hardly matters
            pixels.Slice(y * stride, stride).CopyTo(raw.AsSpan(y * (stride + 1) + 1, stride));
        }

        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) z.Write(raw);

        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(0), width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = colorType;
        WriteChunk(png, "IHDR", header);
        WriteChunk(png, "IDAT", compressed.ToArray());
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> four = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(four, data.Length);
        s.Write(four);
        Span<byte> typeBytes = stackalloc byte[4];
        for (int i = 0; i < 4; i++) typeBytes[i] = (byte)type[i];
        s.Write(typeBytes);
        s.Write(data);
        uint crc = Crc32(Crc32(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(four, crc);
        s.Write(four);
    }

    /// <summary>Updates a running CRC-32 (ISO-HDLC, as PNG uses) over <paramref name="data"/>; start with 0xFFFFFFFF and invert at the end.</summary>
    public static uint Crc32(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }

        return table;
    }
}
