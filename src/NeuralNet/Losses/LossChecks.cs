using System.Numerics;
using NeuralNet.Kernels;

namespace NeuralNet.Losses;

/// <summary>Argument checks shared by the losses, so every message names the loss, the row and the value.</summary>
internal static class LossChecks
{
    /// <summary>Checks that a prediction is (N, classes) and finite.</summary>
    public static void Prediction<T>(string loss, NdArray<T> prediction) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(prediction);
        if (prediction.Rank != 2)
            throw new ArgumentException($"{loss}: expected a prediction of shape (N, classes), got {prediction.ShapeString}.", nameof(prediction));
        Finite(loss, "prediction", prediction);
    }

    /// <summary>Checks that every value is finite; on failure names the row, the column and the value.</summary>
    public static void Finite<T>(string loss, string what, NdArray<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ReadOnlySpan<T> span = values.AsSpan();
        int i = Finiteness.FirstNonFinite(span);
        if (i < 0) return;
        int cols = values.Length / values.Dim(0);
        throw new ArgumentException(
            $"{loss}: {what} {values.ShapeString} must be finite, but row {i / cols}, column {i % cols} is {Modules.ModuleChecks.Format(span[i])}.",
            what);
    }

    /// <summary>Checks one label per row, each in [0, classes).</summary>
    public static void Labels(string loss, ReadOnlySpan<int> labels, int rows, int classes)
    {
        if (labels.Length != rows)
            throw new ArgumentException($"{loss}: expected {rows} labels (one per prediction row), got {labels.Length}.", nameof(labels));
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentException($"{loss}: label {labels[i]} in row {i} is outside the classes [0, {classes}).", nameof(labels));
        }
    }

    /// <summary>Checks that a target has the prediction's shape and is finite.</summary>
    public static void Target<T>(string loss, NdArray<T> prediction, NdArray<T> target) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!target.HasShape(prediction.Shape))
            throw new ArgumentException(
                $"{loss}: expected a target of the prediction's shape {prediction.ShapeString}, got {target.ShapeString}.", nameof(target));
        Finite(loss, "target", target);
    }
}
