using System.Globalization;

using NeuralNet.Serialization;

namespace NeuralNet.Data;

/// <summary>Whether the first line of a CSV file is a header.</summary>
public enum CsvHeader
{
    /// <summary>Treat the first line as a header when none of its fields is a number (e.g. <c>label,pixel0,…</c>); a
    /// first line with a malformed label but numeric pixels is data, and fails as such.</summary>
    Auto,

    /// <summary>The first line is always a header and is skipped.</summary>
    Present,

    /// <summary>There is no header; the first line is data.</summary>
    Absent,
}

/// <summary>
/// Reads and writes labelled CSV rows <c>label,p1,…,pF</c> with integer-valued pixels 0–255 (MNIST in CSV form,
/// as used by the "deep-mlp" reference system).
/// </summary>
/// <remarks>
/// <para>Reading scales each pixel p to p / 255, exactly as <see cref="Mnist"/> does for IDX files, so the same images
/// give bit-identical features from either format. Blank lines are skipped; fields may carry surrounding spaces.</para>
/// <para>Each row must have exactly 1 + <c>featureCount</c> fields, a label that is an integer in [0, classCount), and
/// pixels that are finite numbers in [0, 255]; otherwise <see cref="InvalidDataException"/> names the file, the line and
/// the field (1-based).</para>
/// </remarks>
public static class CsvDataset
{
    /// <summary>Reads a labelled CSV file into a data set of shape (N, featureCount).</summary>
    /// <param name="path">The file.</param>
    /// <param name="header">Whether the first line is a header.</param>
    /// <param name="featureCount">Pixels per row; 784 for MNIST.</param>
    /// <param name="classCount">Labels must lie in [0, classCount).</param>
    /// <exception cref="InvalidDataException">A row is malformed; the message names the file, line and field.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static Dataset Read(string path, CsvHeader header = CsvHeader.Auto, int featureCount = Mnist.PixelCount, int classCount = Mnist.ClassCount)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(featureCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        if (!File.Exists(path)) throw new FileNotFoundException($"CsvDataset: '{path}' does not exist.", path);

        var features = new GrowableArray<float>(featureCount);
        var labels = new GrowableArray<int>(1);
        var row = new float[featureCount];
        var scale = new float[256];
        for (int i = 0; i < scale.Length; i++) scale[i] = i / 255f;
        using var reader = new LineReader(path, 64 + 32 * (featureCount + 1));
        bool first = true;
        while (reader.TryReadLine(out var line))
        {
            bool firstDataLine = false;
            if (line.IsWhiteSpace()) continue;
            if (first)
            {
                first = false;
                if (header == CsvHeader.Present) continue;
                if (header == CsvHeader.Auto)
                {
                    if (IsClearlyHeader(line)) continue;
                    firstDataLine = true;
                }
            }
            long lineNo = reader.LineNumber;
            int fields = line.Count(',') + 1;
            if (fields != featureCount + 1)
                throw Bad(path, lineNo, $"has {fields} fields; expected {featureCount + 1} (a label and {featureCount} pixels).");
            int field = 0;
            int label = 0;
            foreach (var range in line.Split(','))
            {
                var text = line[range].Trim();
                if (field == 0)
                {
                    if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out label))
                        throw Bad(path, lineNo, $"field 1 (the label) is '{Clip(text)}', not an integer." + (firstDataLine
                            ? " The line is not taken as a header because some of its fields are numbers; pass CsvHeader.Present to skip it."
                            : ""));
                    if ((uint)label >= (uint)classCount)
                        throw Bad(path, lineNo, $"field 1 has label {label}; labels must be 0–{classCount - 1}.");
                }
                else if (TryParseSmallInteger(text, out int pixel))
                {
                    // Fast path for the usual 0–255 integers; same value as p / 255f below.
                    if (pixel > 255)
                        throw Bad(path, lineNo, $"field {field + 1} has pixel {pixel}; pixels must be 0–255.");
                    row[field - 1] = scale[pixel];
                }
                else
                {
                    if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float p) || !float.IsFinite(p))
                        throw Bad(path, lineNo, $"field {field + 1} is '{Clip(text)}', not a finite number.");
                    if (p < 0 || p > 255)
                        throw Bad(path, lineNo, $"field {field + 1} has pixel {Clip(text)}; pixels must be 0–255.");
                    row[field - 1] = p / 255f;
                }
                field++;
            }
            features.Add(row);
            labels.Add(label);
        }
        if (labels.Count == 0)
            throw new InvalidDataException($"{path}: the file holds no data rows.");
        return new Dataset(new NdArray<float>(features.ToArray(), labels.Count, featureCount), labels.ToArray(), classCount, path);
    }

    /// <summary>A header names its columns: none of its fields is a number. A data row with one bad field is not one.</summary>
    private static bool IsClearlyHeader(ReadOnlySpan<char> line)
    {
        foreach (var range in line.Split(','))
            if (double.TryParse(line[range].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out _)) return false;
        return true;
    }

    /// <summary>Writes a data set as labelled CSV rows <c>label,p1,…,pF</c> with pixels round(x · 255), atomically.</summary>
    /// <param name="path">The target file.</param>
    /// <param name="dataset">Features must lie in [0, 1].</param>
    /// <param name="header">When true, writes a first line <c>label,pixel1,…,pixelF</c>.</param>
    /// <exception cref="ArgumentException">A feature is outside [0, 1].</exception>
    public static void Write(string path, Dataset dataset, bool header = false)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        int per = dataset.FeatureCount;
        var data = dataset.Features.Data;
        for (int i = 0; i < data.Length; i++)
            if (!(data[i] >= 0 && data[i] <= 1))
                throw new ArgumentException($"CsvDataset.Write: feature {i % per} of example {i / per} in '{dataset.Name}' is {data[i]}; pixels are written as round(x·255) and need x in [0, 1].", nameof(dataset));
        AtomicFile.Write(path, stream =>
        {
            using var w = new StreamWriter(stream, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
            w.NewLine = "\n";
            if (header)
            {
                w.Write("label");
                for (int k = 1; k <= per; k++) { w.Write(",pixel"); w.Write(k.ToString(CultureInfo.InvariantCulture)); }
                w.WriteLine();
            }
            Span<char> num = stackalloc char[16];
            for (int n = 0; n < dataset.Count; n++)
            {
                w.Write(dataset.Labels[n].ToString(CultureInfo.InvariantCulture));
                for (int k = 0; k < per; k++)
                {
                    int p = (int)MathF.Round(data[n * per + k] * 255f);
                    p.TryFormat(num, out int len, default, CultureInfo.InvariantCulture);
                    w.Write(',');
                    w.Write(num[..len]);
                }
                w.WriteLine();
            }
        });
    }

    /// <summary>Parses 1 to 4 ASCII digits; anything else (signs, decimals, exponents) goes to the general parser.</summary>
    private static bool TryParseSmallInteger(ReadOnlySpan<char> text, out int value)
    {
        value = 0;
        if (text.Length is 0 or > 4) return false;
        foreach (char c in text)
        {
            uint d = (uint)(c - '0');
            if (d > 9) return false;
            value = value * 10 + (int)d;
        }
        return true;
    }

    internal static InvalidDataException Bad(string path, long line, string detail) => new($"{path}: line {line} {detail}");

    internal static string Clip(ReadOnlySpan<char> text) => text.Length <= 24 ? text.ToString() : string.Concat(text[..24], "…");
}

/// <summary>An append-only buffer that doubles as it grows, so its size follows the data actually read.</summary>
internal sealed class GrowableArray<T>(int initialCapacity)
{
    private T[] _items = new T[Math.Max(16, initialCapacity)];

    public int Count { get; private set; }

    public void Add(T item)
    {
        if (Count == _items.Length) Grow(1);
        _items[Count++] = item;
    }

    public void Add(ReadOnlySpan<T> items)
    {
        if (Count + items.Length > _items.Length) Grow(items.Length);
        items.CopyTo(_items.AsSpan(Count));
        Count += items.Length;
    }

    public T[] ToArray() => Count == _items.Length ? _items : _items.AsSpan(0, Count).ToArray();

    private void Grow(int needed)
    {
        long size = Math.Max((long)Count + needed, 2L * _items.Length);
        if ((long)Count + needed > Array.MaxLength)
            throw new InvalidDataException($"The data exceeds the largest array ({Array.MaxLength} elements).");
        Array.Resize(ref _items, (int)Math.Min(size, Array.MaxLength));
    }
}
