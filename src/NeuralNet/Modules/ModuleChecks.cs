using System.Globalization;
using System.Numerics;
using NeuralNet.Kernels;

namespace NeuralNet.Modules;

/// <summary>Shared argument checks for modules and losses, so every message has the same form.</summary>
internal static class ModuleChecks
{
    /// <summary>Throws when <paramref name="values"/> holds a NaN or an infinity, naming the owner and the first bad element.</summary>
    public static void ThrowIfNotFinite<T>(string owner, string what, NdArray<T> values)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ReadOnlySpan<T> span = values.AsSpan();
        int i = Finiteness.FirstNonFinite(span);
        if (i >= 0)
            throw new ArgumentException(
                $"{owner}: {what} {values.ShapeString} must be finite, but element {FormatIndex(values.Shape, i)} is {Format(span[i])}.",
                what);
    }


    /// <summary>Throws unless the batch tensor is (N, perExample...) with N ≥ 1.</summary>
    public static void ThrowIfWrongShape<T>(string owner, string what, NdArray<T> values, ReadOnlySpan<int> perExample)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = values.Shape;
        if (shape.Length == perExample.Length + 1 && shape[1..].SequenceEqual(perExample)) return;
        throw new ArgumentException(
            $"{owner}: expected {what} of shape (N, {Inner(perExample)}), got {values.ShapeString}.", what);
    }

    /// <summary>The number of window positions of a 2-D pooling layer along one axis: ⌊(size + 2p − k) / s⌋ + 1.</summary>
    public static int PoolOutSize(int size, int kernel, int stride, int padding) => (size + 2 * padding - kernel) / stride + 1;

    /// <summary>The per-example output shape (C, OH, OW) of a 2-D pooling layer; throws unless the input is (C, H, W)
    /// with room for one window.</summary>
    public static int[] PoolOutputShape(string owner, ReadOnlySpan<int> inputShape, int kernel, int stride, int padding)
    {
        if (inputShape.Length != 3 || inputShape[1] + 2 * padding < kernel || inputShape[2] + 2 * padding < kernel)
            throw new ArgumentException(
                $"{owner}: expected per-example input shape (C, H, W) with H, W ≥ {kernel - 2 * padding}, got {NdArray<double>.ShapeToString(inputShape)}.",
                nameof(inputShape));
        return [inputShape[0], PoolOutSize(inputShape[1], kernel, stride, padding), PoolOutSize(inputShape[2], kernel, stride, padding)];
    }

    /// <summary>Throws unless a pooling layer's batch is (N, C, H, W) with room for one window.</summary>
    public static void ThrowIfNotPoolInput<T>(string owner, NdArray<T> input, int kernel, int padding)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (input.Rank != 4 || input.Dim(2) + 2 * padding < kernel || input.Dim(3) + 2 * padding < kernel)
            throw new ArgumentException(
                $"{owner}: expected input of shape (N, C, H, W) with H, W ≥ {kernel - 2 * padding}, got {input.ShapeString}.", nameof(input));
    }

    /// <summary>Throws when a gradient's shape differs from the output of the last forward pass.</summary>
    public static void ThrowIfGradientMismatch<T>(string owner, NdArray<T> gradient, NdArray<T>? output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (output is null)
            throw new InvalidOperationException($"{owner}: Backward was called before Forward.");
        if (!gradient.HasShape(output.Shape))
            throw new ArgumentException(
                $"{owner}: expected an output gradient of shape {output.ShapeString} (the last output), got {gradient.ShapeString}.",
                nameof(gradient));
    }

    /// <summary>Formats a scalar invariantly, e.g. <c>NaN</c>, <c>-Infinity</c> or <c>0.25</c>.</summary>
    public static string Format<T>(T value) where T : unmanaged, IFloatingPointIeee754<T>
        => value.ToString(null, CultureInfo.InvariantCulture);

    /// <summary>A flat index as a multi-index, e.g. <c>[1, 0, 3]</c>.</summary>
    public static string FormatIndex(ReadOnlySpan<int> shape, int flat)
    {
        var idx = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            idx[d] = flat % shape[d];
            flat /= shape[d];
        }
        return "[" + string.Join(", ", idx) + "]";
    }

    /// <summary>A shape without its parentheses, e.g. <c>1, 28, 28</c>.</summary>
    public static string Inner(ReadOnlySpan<int> shape)
    {
        var s = NdArray<double>.ShapeToString(shape);
        return s[1..^1];
    }

    /// <summary>
    /// Returns <paramref name="buffer"/> when it already has the shape; otherwise the buffer of that shape this one was
    /// paired with (see <see cref="Replace{T}"/>), or a new zeroed tensor.
    /// </summary>
    public static NdArray<T> Ensure<T>(ref NdArray<T>? buffer, ReadOnlySpan<int> shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (buffer is null || !buffer.HasShape(shape)) buffer = Replace(buffer, shape);
        return buffer;
    }

    /// <summary>Returns <paramref name="buffer"/> when it already has the shape (N, rest...); otherwise its pair of that shape
    /// (see <see cref="Replace{T}"/>) or a new zeroed tensor.</summary>
    public static NdArray<T> Ensure<T>(ref NdArray<T>? buffer, int batch, ReadOnlySpan<int> rest)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (buffer is not null && buffer.Rank == rest.Length + 1 && buffer.Dim(0) == batch && buffer.Shape[1..].SequenceEqual(rest))
            return buffer;
        Span<int> shape = stackalloc int[rest.Length + 1];
        shape[0] = batch;
        rest.CopyTo(shape[1..]);
        buffer = Replace(buffer, shape);
        return buffer;
    }

    /// <summary>
    /// The buffer that takes the place of <paramref name="old"/> for a new shape. A training epoch whose size is not a
    /// multiple of the batch size ends with a smaller batch, so every module alternates between two batch sizes; each
    /// buffer is therefore paired with the one that replaced it, and switching back finds the pair instead of
    /// allocating again. After the first epoch, a <c>Trainer.Fit</c> step allocates nothing even then. A pair lives as
    /// long as either of its buffers is referenced (a conditional weak table). The contents of a reused buffer are
    /// whatever its last use left, as when the shape never changes.
    /// </summary>
    private static NdArray<T> Replace<T>(NdArray<T>? old, ReadOnlySpan<int> shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (old is not null && Pairs<T>.Table.TryGetValue(old, out var other) && other.HasShape(shape)) return other;
        var fresh = new NdArray<T>(shape.ToArray());
        if (old is not null)
        {
            Pairs<T>.Table.AddOrUpdate(old, fresh);
            Pairs<T>.Table.AddOrUpdate(fresh, old);
        }
        return fresh;
    }

    private static class Pairs<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly System.Runtime.CompilerServices.ConditionalWeakTable<NdArray<T>, NdArray<T>> Table = new();
    }
}
