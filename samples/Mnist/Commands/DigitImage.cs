using StbImageSharp;

namespace MnistSample.Commands;

/// <summary>
/// Turns a photo or drawing of one digit (PNG, JPEG or BMP) into a 28×28 MNIST-style example: white digit on black,
/// the ink's bounding box scaled to fit a 20×20 box (aspect ratio kept, anti-aliased), centred by its centre of mass in
/// the 28×28 frame, pixels scaled to [0, 1] — the procedure that made the MNIST images.
/// </summary>
public static class DigitImage
{
    /// <summary>The largest image file read, in bytes.</summary>
    public const long MaxFileBytes = 32L << 20;

    /// <summary>The largest image accepted, in pixels (width × height), checked from the header before decoding.</summary>
    public const long MaxPixels = 8192L * 8192;

    /// <summary>Side of the box the digit's bounding box is scaled into (MNIST: 20).</summary>
    public const int BoxSize = 20;

    /// <summary>Side of the output image (MNIST: 28).</summary>
    public const int Size = 28;

    /// <summary>Loads and converts an image file.</summary>
    /// <param name="path">A PNG, JPEG or BMP file.</param>
    /// <returns>784 values in [0, 1], row-major.</returns>
    /// <exception cref="InvalidDataException">The file is not a decodable image of an accepted size, or holds no ink; the message names the file.</exception>
    public static float[] Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new InvalidDataException($"{path}: the file does not exist.");
        if (info.Length > MaxFileBytes) throw new InvalidDataException($"{path}: {info.Length} bytes is larger than the {MaxFileBytes} accepted for an image.");
        byte[] bytes = File.ReadAllBytes(path);
        return FromBytes(bytes, path);
    }

    /// <summary>Converts the bytes of an image file.</summary>
    /// <param name="bytes">The encoded image.</param>
    /// <param name="source">The file name, for messages.</param>
    /// <returns>784 values in [0, 1], row-major.</returns>
    /// <exception cref="InvalidDataException">The bytes are not a decodable image of an accepted size, or hold no ink.</exception>
    public static float[] FromBytes(byte[] bytes, string source)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        // The header is read first so a file claiming a huge image is refused before any pixel buffer is allocated.
        ImageInfo? header;
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            header = ImageInfo.FromStream(stream);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{source}: not a PNG, JPEG or BMP image ({e.Message}).", e);
        }
        if (header is not { } h) throw new InvalidDataException($"{source}: not a PNG, JPEG or BMP image.");
        if (h.Width < 1 || h.Height < 1 || (long)h.Width * h.Height > MaxPixels)
            throw new InvalidDataException($"{source}: the image claims {h.Width}×{h.Height} pixels; at most {MaxPixels} pixels are accepted.");

        ImageResult image;
        try
        {
            image = ImageResult.FromMemory(bytes, ColorComponents.RedGreenBlueAlpha);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{source}: the image cannot be decoded; it is truncated or corrupt ({e.Message}).", e);
        }
        if (image?.Data is null || image.Data.Length < (long)image.Width * image.Height * 4)
            throw new InvalidDataException($"{source}: the image cannot be decoded.");
        return ToMnist(Grey(image), image.Width, image.Height, source);
    }

    // Luminance in [0, 1], transparent pixels composited onto white (a drawing on a transparent canvas).
    private static float[] Grey(ImageResult image)
    {
        var data = image.Data;
        var grey = new float[image.Width * image.Height];
        for (int i = 0; i < grey.Length; i++)
        {
            float r = data[4 * i], g = data[4 * i + 1], b = data[4 * i + 2], a = data[4 * i + 3] / 255f;
            float y = (0.299f * r + 0.587f * g + 0.114f * b) / 255f;
            grey[i] = a * y + (1 - a);
        }
        return grey;
    }

    /// <summary>The MNIST conversion of a greyscale image (values in [0, 1], 1 = white).</summary>
    /// <param name="grey">The image, row-major.</param>
    /// <param name="width">Its width.</param>
    /// <param name="height">Its height.</param>
    /// <param name="source">The file name, for messages.</param>
    /// <returns>784 values in [0, 1]: ink bright on black.</returns>
    public static float[] ToMnist(float[] grey, int width, int height, string source)
    {
        // Ink is whatever differs from the background, judged by the border: dark-on-light drawings are inverted.
        double border = 0;
        int count = 0;
        for (int x = 0; x < width; x++) { border += grey[x] + grey[(height - 1) * width + x]; count += 2; }
        for (int y = 0; y < height; y++) { border += grey[y * width] + grey[y * width + width - 1]; count += 2; }
        bool invert = border / count > 0.5;
        // The background level (the border's) becomes 0 and full ink 1, so grey paper does not count as ink.
        double background = invert ? 1 - border / count : border / count;
        double span = Math.Max(1e-6, 1 - background);
        var ink = new float[grey.Length];
        float max = 0;
        for (int i = 0; i < ink.Length; i++)
        {
            double v = invert ? 1 - grey[i] : grey[i];
            ink[i] = (float)Math.Max(0, (v - background) / span);
            max = Math.Max(max, ink[i]);
        }
        if (max < 0.1f) throw new InvalidDataException($"{source}: no digit found (the image is blank).");
        // The bounding box of clear ink; faint noise below a fifth of the strongest stroke does not widen it.
        float threshold = 0.2f * max;
        int left = width, right = -1, top = height, bottom = -1;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                if (ink[y * width + x] < threshold) continue;
                left = Math.Min(left, x); right = Math.Max(right, x);
                top = Math.Min(top, y); bottom = Math.Max(bottom, y);
            }
        }

        int bw = right - left + 1, bh = bottom - top + 1;
        double scale = (double)BoxSize / Math.Max(bw, bh);
        int tw = Math.Max(1, (int)Math.Round(bw * scale)), th = Math.Max(1, (int)Math.Round(bh * scale));
        var box = Resample(ink, width, left, top, bw, bh, tw, th);

        // Centre of mass of the scaled digit goes to the centre of the 28×28 frame.
        double mass = 0, cx = 0, cy = 0;
        for (int y = 0; y < th; y++)
            for (int x = 0; x < tw; x++)
            {
                double v = box[y * tw + x];
                mass += v; cx += v * (x + 0.5); cy += v * (y + 0.5);
            }
        cx /= mass; cy /= mass;
        // MNIST's centres of mass sit on pixel index 14 (mean 13.99, 14.00 over the test set), i.e. 14.5 in these
        // pixel-centre coordinates.
        int ox = (int)Math.Round(Size / 2.0 + 0.5 - cx), oy = (int)Math.Round(Size / 2.0 + 0.5 - cy);
        var result = new float[Size * Size];
        for (int y = 0; y < th; y++)
        {
            int ty = y + oy;
            if ((uint)ty >= Size) continue;
            for (int x = 0; x < tw; x++)
            {
                int tx = x + ox;
                if ((uint)tx < Size) result[ty * Size + tx] = Math.Clamp(box[y * tw + x], 0f, 1f);
            }
        }
        return result;
    }

    // Area-averaging resample of the (bw × bh) region at (left, top) to (tw × th): each target pixel is the mean of the
    // source area it covers, with fractional edge coverage, so shrinking anti-aliases as MNIST's scaling did.
    private static float[] Resample(float[] src, int stride, int left, int top, int bw, int bh, int tw, int th)
    {
        var dst = new float[tw * th];
        double sx = (double)bw / tw, sy = (double)bh / th;
        for (int y = 0; y < th; y++)
        {
            double y0 = y * sy, y1 = (y + 1) * sy;
            for (int x = 0; x < tw; x++)
            {
                double x0 = x * sx, x1 = (x + 1) * sx;
                double sum = 0, area = 0;
                for (int yy = (int)Math.Floor(y0); yy < Math.Min(bh, (int)Math.Ceiling(y1)); yy++)
                {
                    double wy = Math.Min(y1, yy + 1) - Math.Max(y0, yy);
                    if (wy <= 0) continue;
                    for (int xx = (int)Math.Floor(x0); xx < Math.Min(bw, (int)Math.Ceiling(x1)); xx++)
                    {
                        double wx = Math.Min(x1, xx + 1) - Math.Max(x0, xx);
                        if (wx <= 0) continue;
                        sum += wx * wy * src[(top + yy) * stride + left + xx];
                        area += wx * wy;
                    }
                }
                dst[y * tw + x] = area > 0 ? (float)(sum / area) : 0f;
            }
        }
        return dst;
    }
}
