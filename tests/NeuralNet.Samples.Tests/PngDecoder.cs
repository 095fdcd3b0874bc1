using System.Buffers.Binary;
using System.IO.Compression;

namespace NeuralNet.Samples.Tests;

/// <summary>Decodes 8-bit, non-interlaced grey/RGB/RGBA PNGs (what Chromium's screenshots and our encoder produce) to RGBA.</summary>
internal static class PngDecoder
{
    public static (int Width, int Height, byte[] Rgba) Decode(byte[] png)
    {
        if (png.Length < 8 || png[0] != 0x89 || png[1] != (byte)'P') throw new InvalidDataException("not a PNG");
        int pos = 8, width = 0, height = 0, colorType = 0;
        using var idat = new MemoryStream();
        while (pos + 8 <= png.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            var data = png.AsSpan(pos + 8, len);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                if (data[8] != 8 || data[12] != 0) throw new InvalidDataException($"unsupported PNG: depth {data[8]}, interlace {data[12]}");
                colorType = data[9];
            }
            else if (type == "IDAT") idat.Write(data);
            else if (type == "IEND") break;
            pos += 12 + len;
        }

        int channels = colorType switch { 0 => 1, 2 => 3, 6 => 4, 4 => 2, _ => throw new InvalidDataException($"PNG colour type {colorType}") };
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var rawStream = new MemoryStream();
        z.CopyTo(rawStream);
        var raw = rawStream.ToArray();
        int stride = width * channels;
        var pixels = new byte[stride * height];
        for (int y = 0; y < height; y++)
        {
            int filter = raw[y * (stride + 1)];
            var src = raw.AsSpan(y * (stride + 1) + 1, stride);
            var dst = pixels.AsSpan(y * stride, stride);
            var prev = y > 0 ? pixels.AsSpan((y - 1) * stride, stride) : new byte[stride];
            for (int i = 0; i < stride; i++)
            {
                int a = i >= channels ? dst[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
                int pred = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"PNG filter {filter}"),
                };
                dst[i] = (byte)(src[i] + pred);
            }
        }

        var rgba = new byte[width * height * 4];
        for (int p = 0; p < width * height; p++)
        {
            switch (channels)
            {
                case 1: rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = pixels[p]; rgba[4 * p + 3] = 255; break;
                case 2: rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = pixels[2 * p]; rgba[4 * p + 3] = pixels[2 * p + 1]; break;
                case 3: rgba[4 * p] = pixels[3 * p]; rgba[4 * p + 1] = pixels[3 * p + 1]; rgba[4 * p + 2] = pixels[3 * p + 2]; rgba[4 * p + 3] = 255; break;
                default: pixels.AsSpan(4 * p, 4).CopyTo(rgba.AsSpan(4 * p, 4)); break;
            }
        }

        return (width, height, rgba);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
