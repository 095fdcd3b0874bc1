using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NeuralNet.Kernels;

internal static partial class Kernels
{
    // Fused activation backward passes: one read of each input and one write, where TensorPrimitives would need two or
    // three passes (sigmoid, tanh) or has no primitive (the ReLU mask). Each computes exactly the expression in its
    // remarks, in that order, so results match the multi-pass TensorPrimitives form bit for bit.

    /// <summary>ReLU backward: dx[i] = x[i] &gt; 0 ? dy[i] : 0 (x the forward input; NaN counts as not positive).</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void ReluBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSameLength(nameof(ReluBackward), dx.Length, dy.Length, x.Length);
        ref T d = ref MemoryMarshal.GetReference(dx);
        ref T g = ref MemoryMarshal.GetReference(dy);
        ref T v = ref MemoryMarshal.GetReference(x);
        int i = 0;
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            for (; i <= dx.Length - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                Vector512<T> mask = Vector512.GreaterThan(Vector512.LoadUnsafe(ref v, (nuint)i), Vector512<T>.Zero);
                (mask & Vector512.LoadUnsafe(ref g, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            for (; i <= dx.Length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                Vector256<T> mask = Vector256.GreaterThan(Vector256.LoadUnsafe(ref v, (nuint)i), Vector256<T>.Zero);
                (mask & Vector256.LoadUnsafe(ref g, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < dx.Length; i++)
            Unsafe.Add(ref d, i) = Unsafe.Add(ref v, i) > T.Zero ? Unsafe.Add(ref g, i) : T.Zero;
    }

    /// <summary>Sigmoid backward from the forward output y: dx[i] = ((1 − y[i]) · y[i]) · dy[i].</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void SigmoidBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSameLength(nameof(SigmoidBackward), dx.Length, dy.Length, y.Length);
        ref T d = ref MemoryMarshal.GetReference(dx);
        ref T g = ref MemoryMarshal.GetReference(dy);
        ref T s = ref MemoryMarshal.GetReference(y);
        int i = 0;
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            for (; i <= dx.Length - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                Vector512<T> yv = Vector512.LoadUnsafe(ref s, (nuint)i);
                ((Vector512<T>.One - yv) * yv * Vector512.LoadUnsafe(ref g, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            for (; i <= dx.Length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                Vector256<T> yv = Vector256.LoadUnsafe(ref s, (nuint)i);
                ((Vector256<T>.One - yv) * yv * Vector256.LoadUnsafe(ref g, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < dx.Length; i++)
        {
            T yi = Unsafe.Add(ref s, i);
            Unsafe.Add(ref d, i) = (T.One - yi) * yi * Unsafe.Add(ref g, i);
        }
    }

    /// <summary>Tanh backward from the forward output y: dx[i] = (1 − y[i]·y[i]) · dy[i].</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void TanhBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSameLength(nameof(TanhBackward), dx.Length, dy.Length, y.Length);
        ref T d = ref MemoryMarshal.GetReference(dx);
        ref T g = ref MemoryMarshal.GetReference(dy);
        ref T s = ref MemoryMarshal.GetReference(y);
        int i = 0;
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            for (; i <= dx.Length - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                Vector512<T> yv = Vector512.LoadUnsafe(ref s, (nuint)i);
                ((Vector512<T>.One - yv * yv) * Vector512.LoadUnsafe(ref g, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            for (; i <= dx.Length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                Vector256<T> yv = Vector256.LoadUnsafe(ref s, (nuint)i);
                ((Vector256<T>.One - yv * yv) * Vector256.LoadUnsafe(ref g, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < dx.Length; i++)
        {
            T yi = Unsafe.Add(ref s, i);
            Unsafe.Add(ref d, i) = (T.One - yi * yi) * Unsafe.Add(ref g, i);
        }
    }

    private static void CheckSameLength(string kernel, int dx, int dy, int other)
    {
        if (dx != dy || dx != other)
            throw new ArgumentException($"{kernel}: dx, dy and the forward tensor must have the same length, got {dx}, {dy} and {other}.");
    }
}
