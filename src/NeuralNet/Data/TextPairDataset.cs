using System.Globalization;

using NeuralNet.Serialization;

namespace NeuralNet.Data;

/// <summary>
/// Reads and writes a data set as two text files: one line of space-separated features in [0, 1] per example, and one
/// line of a space-separated one-hot label vector per example (the "spark-mlp" reference system's format).
/// </summary>
/// <remarks>
/// <para>Features are separated by spaces or tabs (runs allowed). A label line has <c>classCount</c> values, each
/// 0 or 1 (written as <c>0</c>, <c>1</c>, <c>0.0</c>, <c>1.0</c>, …), exactly one of them 1. Blank lines are skipped.</para>
/// <para>Every violation raises <see cref="InvalidDataException"/> naming the file, the line and the value (1-based).
/// Writing uses the shortest round-trip form of each float, so write-then-read reproduces the features bit for bit.</para>
/// </remarks>
public static class TextPairDataset
{
    /// <summary>Reads an images file and a labels file into a data set of shape (N, featureCount).</summary>
    /// <param name="imagesPath">One line of <paramref name="featureCount"/> values in [0, 1] per example.</param>
    /// <param name="labelsPath">One line of <paramref name="classCount"/> one-hot values per example.</param>
    /// <param name="featureCount">Values per image line; 784 for MNIST.</param>
    /// <param name="classCount">Values per label line; 10 for MNIST.</param>
    /// <exception cref="InvalidDataException">A line is malformed, or the files hold different numbers of examples.</exception>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    public static Dataset Read(string imagesPath, string labelsPath, int featureCount = Mnist.PixelCount, int classCount = Mnist.ClassCount)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(imagesPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelsPath);
        ArgumentOutOfRangeException.ThrowIfLessThan(featureCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        foreach (var p in new[] { imagesPath, labelsPath })
            if (!File.Exists(p)) throw new FileNotFoundException($"TextPairDataset: '{p}' does not exist.", p);

        var features = new GrowableArray<float>(featureCount);
        var row = new float[featureCount];
        using (var reader = new LineReader(imagesPath, 64 + 40 * featureCount))
        {
            while (reader.TryReadLine(out var line))
            {
                if (line.IsWhiteSpace()) continue;
                int k = 0;
                foreach (var token in Tokens(line))
                {
                    if (k == featureCount)
                        throw CsvDataset.Bad(imagesPath, reader.LineNumber, $"has more than {featureCount} values.");
                    if (!float.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || !float.IsFinite(v))
                        throw CsvDataset.Bad(imagesPath, reader.LineNumber, $"value {k + 1} is '{CsvDataset.Clip(token)}', not a finite number.");
                    if (v < 0 || v > 1)
                        throw CsvDataset.Bad(imagesPath, reader.LineNumber, $"value {k + 1} is {CsvDataset.Clip(token)}; features must be in [0, 1].");
                    row[k++] = v;
                }
                if (k != featureCount)
                    throw CsvDataset.Bad(imagesPath, reader.LineNumber, $"has {k} values; expected {featureCount}.");
                features.Add(row);
            }
        }

        var labels = new GrowableArray<int>(1);
        using (var reader = new LineReader(labelsPath, 64 + 32 * classCount))
        {
            while (reader.TryReadLine(out var line))
            {
                if (line.IsWhiteSpace()) continue;
                int k = 0, hot = -1;
                foreach (var token in Tokens(line))
                {
                    if (k == classCount)
                        throw CsvDataset.Bad(labelsPath, reader.LineNumber, $"has more than {classCount} values; expected a one-hot row of {classCount}.");
                    if (!double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || (v != 0 && v != 1))
                        throw CsvDataset.Bad(labelsPath, reader.LineNumber, $"value {k + 1} is '{CsvDataset.Clip(token)}'; a one-hot row holds only 0 and 1.");
                    if (v == 1)
                    {
                        if (hot >= 0)
                            throw CsvDataset.Bad(labelsPath, reader.LineNumber, $"has 1 at values {hot + 1} and {k + 1}; a one-hot row has exactly one.");
                        hot = k;
                    }
                    k++;
                }
                if (k != classCount)
                    throw CsvDataset.Bad(labelsPath, reader.LineNumber, $"has {k} values; expected a one-hot row of {classCount}.");
                if (hot < 0)
                    throw CsvDataset.Bad(labelsPath, reader.LineNumber, "is all zeros; a one-hot row has exactly one 1.");
                labels.Add(hot);
            }
        }

        int n = features.Count / featureCount;
        if (n != labels.Count)
            throw new InvalidDataException($"TextPairDataset: '{imagesPath}' holds {n} images but '{labelsPath}' holds {labels.Count} labels.");
        if (n == 0)
            throw new InvalidDataException($"{imagesPath}: the file holds no examples.");
        return new Dataset(new NdArray<float>(features.ToArray(), n, featureCount), labels.ToArray(), classCount, imagesPath);
    }

    /// <summary>Writes a data set as an images file and a one-hot labels file, atomically each.</summary>
    /// <param name="imagesPath">Receives one line of space-separated features per example.</param>
    /// <param name="labelsPath">Receives one line of space-separated 0/1 values per example.</param>
    /// <param name="dataset">Features must lie in [0, 1].</param>
    /// <exception cref="ArgumentException">A feature is outside [0, 1].</exception>
    public static void Write(string imagesPath, string labelsPath, Dataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        int per = dataset.FeatureCount;
        var data = dataset.Features.Data;
        for (int i = 0; i < data.Length; i++)
            if (!(data[i] >= 0 && data[i] <= 1))
                throw new ArgumentException($"TextPairDataset.Write: feature {i % per} of example {i / per} in '{dataset.Name}' is {data[i]}; the format holds values in [0, 1].", nameof(dataset));
        AtomicFile.Write(imagesPath, stream =>
        {
            using var w = new StreamWriter(stream, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
            w.NewLine = "\n";
            Span<char> num = stackalloc char[32];
            for (int n = 0; n < dataset.Count; n++)
            {
                for (int k = 0; k < per; k++)
                {
                    if (k > 0) w.Write(' ');
                    data[n * per + k].TryFormat(num, out int len, "R", CultureInfo.InvariantCulture);
                    w.Write(num[..len]);
                }
                w.WriteLine();
            }
        });
        AtomicFile.Write(labelsPath, stream =>
        {
            using var w = new StreamWriter(stream, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
            w.NewLine = "\n";
            foreach (int label in dataset.Labels)
            {
                for (int c = 0; c < dataset.ClassCount; c++)
                {
                    if (c > 0) w.Write(' ');
                    w.Write(c == label ? '1' : '0');
                }
                w.WriteLine();
            }
        });
    }

    private static TokenEnumerator Tokens(ReadOnlySpan<char> line) => new(line);

    /// <summary>Splits on runs of spaces and tabs without allocating.</summary>
    private ref struct TokenEnumerator(ReadOnlySpan<char> line)
    {
        private ReadOnlySpan<char> _rest = line;

        public ReadOnlySpan<char> Current { get; private set; }

        public readonly TokenEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            _rest = _rest.TrimStart(" \t");
            if (_rest.IsEmpty) return false;
            int end = _rest.IndexOfAny(' ', '\t');
            if (end < 0) end = _rest.Length;
            Current = _rest[..end];
            _rest = _rest[end..];
            return true;
        }
    }
}
