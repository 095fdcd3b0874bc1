using System.Numerics;
using NeuralNet.Kernels;

namespace NeuralNet.Data;

/// <summary>
/// A data set held in memory: float features of one shape per example, and either integer class labels or float targets
/// (regression values, several outputs, one-hot or soft labels).
/// </summary>
/// <remarks>
/// <para><see cref="Features"/> has shape (N, ...<see cref="ExampleShape"/>), e.g. (N, 784) for flat MNIST or
/// (N, 1, 28, 28) after <see cref="Reshape"/>. A labelled set has <see cref="Labels"/>[i] in [0, <see cref="ClassCount"/>);
/// a set of targets (<see cref="HasTargets"/>) has <see cref="Targets"/> of shape (N, outputs), one row per example.</para>
/// <para>The simplest way to bring your own data is <see cref="FromArrays(float[,], int[], int?, string?)"/> (labels) or
/// <see cref="FromArrays(float[,], float[,], string?)"/> (targets): one row per example.</para>
/// <para>Operations that select examples (<see cref="Take"/>, <see cref="Slice"/>, <see cref="Select"/>,
/// <see cref="Split"/>) copy; <see cref="Reshape"/> shares the storage. All randomness comes from a caller-supplied
/// <see cref="RandomGenerator"/>, so a seed fixes every split and shuffle.</para>
/// </remarks>
public sealed class Dataset
{
    private readonly int[] _exampleShape;
    private readonly int[]? _labels;
    private readonly NdArray<float>? _targets;

    /// <summary>Creates a data set over existing storage (no copy), validating it.</summary>
    /// <param name="features">Shape (N, ...example shape); every value must be finite.</param>
    /// <param name="labels">N labels, each in [0, <paramref name="classCount"/>).</param>
    /// <param name="classCount">The number of classes, at least 2.</param>
    /// <param name="name">A name for messages, e.g. the source file.</param>
    /// <exception cref="ArgumentException">The counts differ, a label is out of range, a feature is not finite, or the features have rank below 2.</exception>
    public Dataset(NdArray<float> features, int[] labels, int classCount = 10, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        Name = name ?? "dataset";
        if (features.Rank < 2)
            throw new ArgumentException($"Dataset '{Name}': features must have shape (N, ...), got {features.ShapeString}.", nameof(features));
        if (features.Dim(0) != labels.Length)
            throw new ArgumentException($"Dataset '{Name}': {features.Dim(0)} examples in features {features.ShapeString} but {labels.Length} labels.", nameof(labels));
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classCount)
                throw new ArgumentException($"Dataset '{Name}': label {labels[i]} of example {i} is outside [0, {classCount}).", nameof(labels));
        int bad = Finiteness.FirstNonFinite<float>(features.Data);
        if (bad >= 0)
        {
            int per = features.Length / features.Dim(0);
            throw new ArgumentException($"Dataset '{Name}': feature {bad % per} of example {bad / per} is {features.Data[bad]}; features must be finite.", nameof(features));
        }
        Features = features;
        _labels = labels;
        ClassCount = classCount;
        _exampleShape = features.ShapeArray()[1..];
    }

    /// <summary>Creates a data set of float targets over existing storage (no copy), validating it.</summary>
    /// <param name="features">Shape (N, ...example shape); every value must be finite.</param>
    /// <param name="targets">Shape (N, outputs): one row of targets per example (a regression value, several outputs, or a
    /// one-hot or soft label row); every value must be finite.</param>
    /// <param name="name">A name for messages, e.g. the source file.</param>
    /// <exception cref="ArgumentException">The counts differ, a value is not finite, the features have rank below 2 or the
    /// targets are not (N, outputs).</exception>
    public Dataset(NdArray<float> features, NdArray<float> targets, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(targets);
        Name = name ?? "dataset";
        if (features.Rank < 2)
            throw new ArgumentException($"Dataset '{Name}': features must have shape (N, ...), got {features.ShapeString}.", nameof(features));
        if (targets.Rank != 2)
            throw new ArgumentException($"Dataset '{Name}': targets must have shape (N, outputs), got {targets.ShapeString}; reshape a single output to (N, 1).", nameof(targets));
        if (features.Dim(0) != targets.Dim(0))
            throw new ArgumentException($"Dataset '{Name}': {features.Dim(0)} examples in features {features.ShapeString} but {targets.Dim(0)} in targets {targets.ShapeString}.", nameof(targets));
        CheckFinite(Name, "feature", features);
        CheckFinite(Name, "target", targets);
        Features = features;
        _targets = targets;
        _exampleShape = features.ShapeArray()[1..];
    }

    /// <summary>Builds a labelled data set from plain arrays (copied): one row of <paramref name="features"/> per example.</summary>
    /// <param name="features">(N, features) values, finite.</param>
    /// <param name="labels">N class labels, each in [0, classCount).</param>
    /// <param name="classCount">The number of classes; null takes the largest label + 1 (at least 2).</param>
    /// <param name="name">A name for messages.</param>
    /// <exception cref="ArgumentException">The counts differ, there are no examples, a label is out of range or a value is not finite.</exception>
    /// <example><code>var data = Dataset.FromArrays(new float[,] { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } }, [0, 1, 1, 0]);</code></example>
    public static Dataset FromArrays(float[,] features, int[] labels, int? classCount = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var x = FromMatrix(features, name, nameof(features));
        if (labels.Length == 0) throw new ArgumentException($"Dataset '{name ?? "dataset"}': no labels.", nameof(labels));
        return new Dataset(x, (int[])labels.Clone(), classCount ?? Math.Max(2, labels.Max() + 1), name);
    }

    /// <summary>Builds a data set of float targets from plain arrays (copied): one row of each per example.</summary>
    /// <param name="features">(N, features) values, finite.</param>
    /// <param name="targets">(N, outputs) targets, finite.</param>
    /// <param name="name">A name for messages.</param>
    /// <exception cref="ArgumentException">The counts differ, there are no examples or a value is not finite.</exception>
    public static Dataset FromArrays(float[,] features, float[,] targets, string? name = null)
        => new(FromMatrix(features, name, nameof(features)), FromMatrix(targets, name, nameof(targets)), name);

    /// <summary>Builds a data set with one float target per example (regression) from plain arrays (copied).</summary>
    /// <param name="features">(N, features) values, finite.</param>
    /// <param name="targets">N targets, finite; stored as (N, 1).</param>
    /// <param name="name">A name for messages.</param>
    /// <exception cref="ArgumentException">The counts differ, there are no examples or a value is not finite.</exception>
    public static Dataset FromArrays(float[,] features, float[] targets, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.Length == 0) throw new ArgumentException($"Dataset '{name ?? "dataset"}': no targets.", nameof(targets));
        return new(FromMatrix(features, name, nameof(features)), new NdArray<float>((float[])targets.Clone(), targets.Length, 1), name);
    }

    private static NdArray<float> FromMatrix(float[,] values, string? name, string what)
    {
        ArgumentNullException.ThrowIfNull(values, what);
        int rows = values.GetLength(0), cols = values.GetLength(1);
        if (rows == 0 || cols == 0)
            throw new ArgumentException($"Dataset '{name ?? "dataset"}': {what} is empty ({rows} x {cols}).", what);
        var result = new NdArray<float>(rows, cols);
        System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref values[0, 0], rows * cols).CopyTo(result.Data);
        return result;
    }

    private static void CheckFinite(string name, string what, NdArray<float> values)
    {
        int bad = Finiteness.FirstNonFinite<float>(values.Data);
        if (bad >= 0)
        {
            int per = values.Length / values.Dim(0);
            throw new ArgumentException($"Dataset '{name}': {what} {bad % per} of example {bad / per} is {values.Data[bad]}; {what}s must be finite.", what + "s");
        }
    }

    /// <summary>The features, shape (N, ...<see cref="ExampleShape"/>).</summary>
    public NdArray<float> Features { get; }

    /// <summary>True when the data set holds float <see cref="Targets"/> rather than class <see cref="Labels"/>.</summary>
    public bool HasTargets => _targets is not null;

    /// <summary>The class label of each example.</summary>
    /// <exception cref="InvalidOperationException">The data set holds float targets (<see cref="HasTargets"/>).</exception>
    public int[] Labels => _labels ?? throw new InvalidOperationException($"Dataset '{Name}' holds float targets {_targets!.ShapeString}, not class labels; use Targets.");

    /// <summary>The float targets, (N, outputs).</summary>
    /// <exception cref="InvalidOperationException">The data set holds class labels.</exception>
    public NdArray<float> Targets => _targets ?? throw new InvalidOperationException($"Dataset '{Name}' holds class labels, not float targets; use Labels (or OneHot()).");

    /// <summary>The number of classes; 0 for a data set of float targets.</summary>
    public int ClassCount { get; }

    /// <summary>A name for messages (usually the source file).</summary>
    public string Name { get; }

    /// <summary>The number of examples N.</summary>
    public int Count => Features.Dim(0);

    /// <summary>The shape of one example, e.g. [784] or [1, 28, 28].</summary>
    public ReadOnlySpan<int> ExampleShape => _exampleShape;

    /// <summary>The number of features of one example (the product of <see cref="ExampleShape"/>).</summary>
    public int FeatureCount => Features.Length / Count;

    /// <summary>Returns a copy of <see cref="ExampleShape"/>.</summary>
    public int[] ExampleShapeArray() => (int[])_exampleShape.Clone();

    /// <summary>Builds a data set from unsigned-byte pixels, scaling each to [0, 1] by x / 255.</summary>
    /// <param name="pixels">N·∏exampleShape bytes, example-major.</param>
    /// <param name="labels">N labels.</param>
    /// <param name="exampleShape">The shape of one example, e.g. [784].</param>
    /// <param name="classCount">The number of classes.</param>
    /// <param name="name">A name for messages.</param>
    /// <exception cref="ArgumentException">The sizes do not agree or a label is out of range.</exception>
    public static Dataset FromBytes(ReadOnlySpan<byte> pixels, int[] labels, int[] exampleShape, int classCount = 10, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(exampleShape);
        long per = 1;
        foreach (int d in exampleShape) per *= d;
        if (per < 1 || per * labels.Length != pixels.Length)
            throw new ArgumentException($"Dataset '{name}': {pixels.Length} pixels do not make {labels.Length} examples of shape {NdArray<float>.ShapeToString(exampleShape)}.", nameof(pixels));
        if (labels.Length == 0)
            throw new ArgumentException($"Dataset '{name}': no examples.", nameof(labels));
        var features = new NdArray<float>([labels.Length, .. exampleShape]);
        ScaleBytes(pixels, features.Data);
        return new Dataset(features, labels, classCount, name);
    }

    /// <summary>Writes x / 255 (correctly rounded) for each byte x.</summary>
    internal static void ScaleBytes(ReadOnlySpan<byte> pixels, Span<float> destination)
    {
        // A table of correctly rounded quotients: exact, and what the CSV reader computes for integer pixels.
        Span<float> table = stackalloc float[256];
        for (int i = 0; i < 256; i++) table[i] = i / 255f;
        for (int i = 0; i < pixels.Length; i++) destination[i] = table[pixels[i]];
    }

    /// <summary>Returns a data set sharing this storage with another per-example shape of the same size.</summary>
    /// <param name="exampleShape">E.g. <c>Reshape(1, 28, 28)</c> for convolutional networks, <c>Reshape(784)</c> for MLPs.</param>
    /// <exception cref="ArgumentException">The element count differs from <see cref="FeatureCount"/>.</exception>
    public Dataset Reshape(params int[] exampleShape)
    {
        ArgumentNullException.ThrowIfNull(exampleShape);
        long per = 1;
        foreach (int d in exampleShape) per *= d;
        if (per != FeatureCount || exampleShape.Any(d => d < 1))
            throw new ArgumentException($"Dataset '{Name}': cannot reshape examples of {FeatureCount} features to {NdArray<float>.ShapeToString(exampleShape)}.", nameof(exampleShape));
        return new Dataset(Features.Reshape([Count, .. exampleShape]), _labels, _targets, ClassCount, Name);
    }

    /// <summary>The labels one-hot encoded: shape (N, <see cref="ClassCount"/>), 1 at the label's column, 0 elsewhere.</summary>
    /// <exception cref="InvalidOperationException">The data set holds float targets.</exception>
    public NdArray<float> OneHot() => OneHot<float>(Labels, ClassCount);

    /// <summary>One-hot encodes labels: a tensor of shape (labels.Length, classCount).</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="labels">Labels in [0, <paramref name="classCount"/>).</param>
    /// <param name="classCount">The number of classes.</param>
    /// <exception cref="ArgumentException">A label is out of range or there are no labels.</exception>
    public static NdArray<T> OneHot<T>(ReadOnlySpan<int> labels, int classCount) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        if (labels.IsEmpty) throw new ArgumentException("OneHot: no labels.", nameof(labels));
        var result = new NdArray<T>(labels.Length, classCount);
        var d = result.Data;
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount)
                throw new ArgumentException($"OneHot: label {labels[i]} at index {i} is outside [0, {classCount}).", nameof(labels));
            d[i * classCount + labels[i]] = T.One;
        }
        return result;
    }

    /// <summary>The number of examples of each class.</summary>
    /// <exception cref="InvalidOperationException">The data set holds float targets.</exception>
    public int[] LabelHistogram()
    {
        var counts = new int[ClassCount];
        foreach (int l in Labels) counts[l]++;
        return counts;
    }

    /// <summary>A copy of the first <paramref name="count"/> examples (the "first N" subsets of the reference systems).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is not in [1, <see cref="Count"/>].</exception>
    public Dataset Take(int count) => Slice(0, count);

    /// <summary>A copy of the examples [start, start + count).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is empty or outside the data set.</exception>
    public Dataset Slice(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if ((long)start + count > Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"Dataset '{Name}': examples [{start}, {(long)start + count}) are outside the {Count} examples.");
        int per = FeatureCount;
        var features = new NdArray<float>([count, .. _exampleShape]);
        Features.Data.AsSpan(start * per, count * per).CopyTo(features.Data);
        NdArray<float>? targets = null;
        if (_targets is not null)
        {
            int outputs = _targets.Dim(1);
            targets = new NdArray<float>(count, outputs);
            _targets.Data.AsSpan(start * outputs, count * outputs).CopyTo(targets.Data);
        }
        return new Dataset(features, _labels?.AsSpan(start, count).ToArray(), targets, ClassCount, Name);
    }

    /// <summary>A copy of the examples at <paramref name="indices"/>, in that order.</summary>
    /// <exception cref="ArgumentException">No indices, or an index is outside [0, <see cref="Count"/>).</exception>
    public Dataset Select(ReadOnlySpan<int> indices)
    {
        if (indices.IsEmpty) throw new ArgumentException($"Dataset '{Name}': no indices to select.", nameof(indices));
        var features = new NdArray<float>([indices.Length, .. _exampleShape]);
        if (_targets is not null)
        {
            var targets = new NdArray<float>(indices.Length, _targets.Dim(1));
            CopyBatch(indices, features.Data, targets.Data.AsSpan());
            return new Dataset(features, null, targets, ClassCount, Name);
        }
        var labels = new int[indices.Length];
        CopyBatch(indices, features.Data, labels);
        return new Dataset(features, labels, null, ClassCount, Name);
    }

    /// <summary>Copies the examples at <paramref name="indices"/> into caller-owned buffers, converting to <typeparamref name="T"/>; allocates nothing.</summary>
    /// <typeparam name="T">The element type of the destination.</typeparam>
    /// <param name="indices">Example indices in [0, <see cref="Count"/>).</param>
    /// <param name="features">At least indices.Length · <see cref="FeatureCount"/> elements; filled example-major.</param>
    /// <param name="labels">At least indices.Length elements.</param>
    /// <exception cref="ArgumentException">A buffer is too small or an index is out of range.</exception>
    /// <exception cref="InvalidOperationException">The data set holds float targets (use the overload with a target span).</exception>
    public void CopyBatch<T>(ReadOnlySpan<int> indices, Span<T> features, Span<int> labels) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ownLabels = Labels;
        int per = FeatureCount;
        if (features.Length < (long)indices.Length * per || labels.Length < indices.Length)
            throw new ArgumentException($"Dataset '{Name}': a batch of {indices.Length} needs {(long)indices.Length * per} feature and {indices.Length} label slots, got {features.Length} and {labels.Length}.", nameof(features));
        var src = Features.Data;
        for (int b = 0; b < indices.Length; b++)
        {
            int i = indices[b];
            if ((uint)i >= (uint)Count)
                throw new ArgumentException($"Dataset '{Name}': index {i} at batch position {b} is outside [0, {Count}).", nameof(indices));
            var from = src.AsSpan(i * per, per);
            var to = features.Slice(b * per, per);
            if (typeof(T) == typeof(float))
                from.CopyTo(System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(to));
            else
                for (int k = 0; k < per; k++) to[k] = T.CreateChecked(from[k]);
            labels[b] = ownLabels[i];
        }
    }

    /// <summary>Copies the examples at <paramref name="indices"/> and their target rows into caller-owned buffers, converting to
    /// <typeparamref name="T"/>; allocates nothing.</summary>
    /// <typeparam name="T">The element type of the destination.</typeparam>
    /// <param name="indices">Example indices in [0, <see cref="Count"/>).</param>
    /// <param name="features">At least indices.Length · <see cref="FeatureCount"/> elements; filled example-major.</param>
    /// <param name="targets">At least indices.Length · outputs elements; filled row by row.</param>
    /// <exception cref="ArgumentException">A buffer is too small or an index is out of range.</exception>
    /// <exception cref="InvalidOperationException">The data set holds class labels.</exception>
    public void CopyBatch<T>(ReadOnlySpan<int> indices, Span<T> features, Span<T> targets) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var own = Targets;
        int per = FeatureCount, outputs = own.Dim(1);
        if (features.Length < (long)indices.Length * per || targets.Length < (long)indices.Length * outputs)
            throw new ArgumentException($"Dataset '{Name}': a batch of {indices.Length} needs {(long)indices.Length * per} feature and {(long)indices.Length * outputs} target slots, got {features.Length} and {targets.Length}.", nameof(features));
        for (int b = 0; b < indices.Length; b++)
        {
            int i = indices[b];
            if ((uint)i >= (uint)Count)
                throw new ArgumentException($"Dataset '{Name}': index {i} at batch position {b} is outside [0, {Count}).", nameof(indices));
            CopyConverted(Features.Data.AsSpan(i * per, per), features.Slice(b * per, per));
            CopyConverted(own.Data.AsSpan(i * outputs, outputs), targets.Slice(b * outputs, outputs));
        }
    }

    private static void CopyConverted<T>(ReadOnlySpan<float> from, Span<T> to) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
            from.CopyTo(System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(to));
        else
            for (int k = 0; k < from.Length; k++) to[k] = T.CreateChecked(from[k]);
    }

    /// <summary>A copy with the examples in a random order drawn from <paramref name="random"/>.</summary>
    public Dataset Shuffle(RandomGenerator random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var order = Enumerable.Range(0, Count).ToArray();
        random.Shuffle(order.AsSpan());
        return Select(order);
    }

    /// <summary>
    /// Splits into disjoint parts of the given sizes: after a shuffle by <paramref name="random"/>, or in order when it is null.
    /// </summary>
    /// <param name="random">The generator of the permutation; null takes consecutive blocks from the start.</param>
    /// <param name="counts">The size of each part, each at least 1, summing to at most <see cref="Count"/>; left-over examples are dropped.</param>
    /// <returns>One data set per count. Within a part, examples keep their original relative order.</returns>
    /// <exception cref="ArgumentException">A count is below 1 or they sum to more than <see cref="Count"/>.</exception>
    public Dataset[] Split(RandomGenerator? random, params int[] counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        long sum = 0;
        foreach (int c in counts)
        {
            if (c < 1) throw new ArgumentException($"Dataset '{Name}': split sizes must be at least 1, got [{string.Join(", ", counts)}].", nameof(counts));
            sum += c;
        }
        if (sum > Count)
            throw new ArgumentException($"Dataset '{Name}': split sizes [{string.Join(", ", counts)}] sum to {sum}, more than the {Count} examples.", nameof(counts));
        var order = Enumerable.Range(0, Count).ToArray();
        random?.Shuffle(order.AsSpan());
        var parts = new Dataset[counts.Length];
        int start = 0;
        for (int p = 0; p < counts.Length; p++)
        {
            var part = order.AsSpan(start, counts[p]);
            part.Sort();
            parts[p] = Select(part);
            start += counts[p];
        }
        return parts;
    }

    /// <inheritdoc/>
    public override string ToString() => _targets is null
        ? $"Dataset '{Name}': {Count} examples of shape {NdArray<float>.ShapeToString(_exampleShape)}, {ClassCount} classes"
        : $"Dataset '{Name}': {Count} examples of shape {NdArray<float>.ShapeToString(_exampleShape)}, {_targets.Dim(1)} target(s) each";

    // Already validated storage (a view or a copy of a validated set).
    private Dataset(NdArray<float> features, int[]? labels, NdArray<float>? targets, int classCount, string name)
    {
        Features = features;
        _labels = labels;
        _targets = targets;
        ClassCount = classCount;
        Name = name;
        _exampleShape = features.ShapeArray()[1..];
    }
}
