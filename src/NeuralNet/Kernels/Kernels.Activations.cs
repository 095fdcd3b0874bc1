using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NeuralNet.Kernels;

internal static partial class Kernels
{
    // Fused activation backward passes: one read of each input and one write, where TensorPrimitives would need two or
    // three passes (sigmoid, tanh) or has no primitive (the ReLU mask). Each computes exactly the expression in its
    // remarks, in that order, so results match the multi-pass TensorPrimitives form bit for bit. Large tensors run in
    // parallel parts (Kernels.Elementwise.cs).

    /// <summary>ReLU backward: dx[i] = x[i] &gt; 0 ? dy[i] : 0 (x the forward input; NaN counts as not positive).</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void ReluBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        RunElementwise(ElementwiseOp.ReluBackward, dx, dy, x);

    /// <summary>Sigmoid backward from the forward output y: dx[i] = ((1 − y[i]) · y[i]) · dy[i].</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void SigmoidBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> y)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        RunElementwise(ElementwiseOp.SigmoidBackward, dx, dy, y);

    /// <summary>Tanh backward from the forward output y: dx[i] = (1 − y[i]·y[i]) · dy[i].</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void TanhBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> y)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        RunElementwise(ElementwiseOp.TanhBackward, dx, dy, y);

    /// <summary>
    /// An elementwise backward rule dx = f(dy, s), s the forward tensor the rule needs (input or output), at each vector
    /// width and for the scalar tail; every width computes the same expression in the same order.
    /// </summary>
    private interface IGradientRule<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        static abstract Vector512<T> Apply(Vector512<T> dy, Vector512<T> s);
        static abstract Vector256<T> Apply(Vector256<T> dy, Vector256<T> s);
        static abstract T Apply(T dy, T s);
    }

    private readonly struct ReluGradient<T> : IGradientRule<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> Apply(Vector512<T> dy, Vector512<T> x) => Vector512.GreaterThan(x, Vector512<T>.Zero) & dy;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> Apply(Vector256<T> dy, Vector256<T> x) => Vector256.GreaterThan(x, Vector256<T>.Zero) & dy;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Apply(T dy, T x) => x > T.Zero ? dy : T.Zero;
    }

    private readonly struct SigmoidGradient<T> : IGradientRule<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> Apply(Vector512<T> dy, Vector512<T> y) => (Vector512<T>.One - y) * y * dy;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> Apply(Vector256<T> dy, Vector256<T> y) => (Vector256<T>.One - y) * y * dy;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Apply(T dy, T y) => (T.One - y) * y * dy;
    }

    private readonly struct TanhGradient<T> : IGradientRule<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> Apply(Vector512<T> dy, Vector512<T> y) => (Vector512<T>.One - y * y) * dy;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> Apply(Vector256<T> dy, Vector256<T> y) => (Vector256<T>.One - y * y) * dy;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Apply(T dy, T y) => (T.One - y * y) * dy;
    }

    /// <summary>
    /// dx[i] = TRule.Apply(dy[i], s[i]): the widest hardware vectors, then scalars for the tail. The lengths are checked
    /// by the caller (<see cref="RunElementwise{T}"/>).
    /// </summary>
    private static void ApplyGradient<T, TRule>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> s)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TRule : struct, IGradientRule<T>
    {
        ref T d = ref MemoryMarshal.GetReference(dx);
        ref T g = ref MemoryMarshal.GetReference(dy);
        ref T v = ref MemoryMarshal.GetReference(s);
        int i = 0;
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            for (; i <= dx.Length - Vector512<T>.Count; i += Vector512<T>.Count)
                TRule.Apply(Vector512.LoadUnsafe(ref g, (nuint)i), Vector512.LoadUnsafe(ref v, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            for (; i <= dx.Length - Vector256<T>.Count; i += Vector256<T>.Count)
                TRule.Apply(Vector256.LoadUnsafe(ref g, (nuint)i), Vector256.LoadUnsafe(ref v, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        }
        for (; i < dx.Length; i++)
            Unsafe.Add(ref d, i) = TRule.Apply(Unsafe.Add(ref g, i), Unsafe.Add(ref v, i));
    }

    private static void CheckSameLength(string kernel, int dx, int dy, int other)
    {
        if (dx != dy || dx != other)
            throw new ArgumentException($"{kernel}: dx, dy and the forward tensor must have the same length, got {dx}, {dy} and {other}.");
    }
}
