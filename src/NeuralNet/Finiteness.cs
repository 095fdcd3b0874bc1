using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet;

/// <summary>The one search for NaN and infinity that every input check, loader and diagnosis uses.</summary>
internal static class Finiteness
{
    /// <summary>
    /// The index of the first NaN or infinity in <paramref name="values"/>, or −1 when all are finite: one vectorized pass
    /// in the common case, the element-by-element search only when there is something to find.
    /// </summary>
    public static int FirstNonFinite<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (TensorPrimitives.IsFiniteAll(values)) return -1;
        for (int i = 0; i < values.Length; i++)
            if (!T.IsFinite(values[i])) return i;
        return -1;
    }
}
