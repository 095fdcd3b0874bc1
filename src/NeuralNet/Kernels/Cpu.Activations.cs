using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NeuralNet.Kernels;

internal static partial class Cpu
{
    // Fused activation backward passes: one read of each input and one write, where TensorPrimitives would need two or
    // three passes (sigmoid, tanh) or has no primitive (the ReLU mask). Each computes exactly the expression in its
    // remarks, in that order, so results match the multi-pass TensorPrimitives form bit for bit. Large tensors run in
    // parallel parts (Cpu.Elementwise.cs).

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

    // Tanh forward. TensorPrimitives.Tanh (System.Numerics.Tensors 11) computes it from exp(2x) and loses the small
    // arguments: tanh(1e-8) comes out as -0, tanh(0) as -5.96e-8 in float, 3.5 % off at 1.05e-6. This kernel uses
    // Cephes' form instead: below |x| = 0.625 the odd rational x + x·z·P(z)/Q(z), z = x² (relative error 2.5e-16), and
    // above it 1 − 2/(e^(2|x|) + 1) with the sign of x, where the subtraction no longer cancels (tanh ≥ 0.55). Floats
    // are widened and computed in double, so they come out correctly rounded but for rare double-rounding ties. Every
    // element, including the tail of a span, goes through the same vector code, so a result never depends on where a
    // parallel part or a vector boundary falls. exp(±inf) and NaN need no special case: ±inf gives ±1, NaN stays NaN.

    private const double TanhRationalBound = 0.625;
    private const double TanhP0 = -9.64399179425052238628E-1, TanhP1 = -9.92877231001918586564E1, TanhP2 = -1.61468768441708447952E3;
    private const double TanhQ0 = 1.12811678491632931402E2, TanhQ1 = 2.23548839060100448583E3, TanhQ2 = 4.84406305325125486048E3;

    /// <summary>Tanh forward: y[i] = tanh(x[i]), accurate for every argument (see the comment above). Lengths are checked by the caller.</summary>
    private static void TanhSpan<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(double))
            TanhDouble(MemoryMarshal.Cast<T, double>(y), MemoryMarshal.Cast<T, double>(x));
        else if (typeof(T) == typeof(float))
            TanhFloat(MemoryMarshal.Cast<T, float>(y), MemoryMarshal.Cast<T, float>(x));
        else
            TanhNaive(y, x);
    }

    /// <summary>The reference: y[i] = T.Tanh(x[i]) one element at a time (the fallback for element types other than float and double).</summary>
    internal static void TanhNaive<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.Tanh(x[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TanhDouble(Span<double> y, ReadOnlySpan<double> x)
    {
        ref double src = ref MemoryMarshal.GetReference(x);
        ref double dst = ref MemoryMarshal.GetReference(y);
        int i = 0, n = x.Length;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<double>.Count; i += Vector512<double>.Count)
                Tanh(Vector512.LoadUnsafe(ref src, (nuint)i)).StoreUnsafe(ref dst, (nuint)i);
            if (i < n)
            {
                Span<double> tail = stackalloc double[Vector512<double>.Count];
                x[i..].CopyTo(tail);
                Tanh(Vector512.Create<double>(tail)).CopyTo(tail);
                tail[..(n - i)].CopyTo(y[i..]);
            }
        }
        else
        {
            for (; i <= n - Vector256<double>.Count; i += Vector256<double>.Count)
                Tanh(Vector256.LoadUnsafe(ref src, (nuint)i)).StoreUnsafe(ref dst, (nuint)i);
            if (i < n)
            {
                Span<double> tail = stackalloc double[Vector256<double>.Count];
                x[i..].CopyTo(tail);
                Tanh(Vector256.Create<double>(tail)).CopyTo(tail);
                tail[..(n - i)].CopyTo(y[i..]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TanhFloat(Span<float> y, ReadOnlySpan<float> x)
    {
        ref float src = ref MemoryMarshal.GetReference(x);
        ref float dst = ref MemoryMarshal.GetReference(y);
        int i = 0, n = x.Length;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
                Tanh(Vector512.LoadUnsafe(ref src, (nuint)i)).StoreUnsafe(ref dst, (nuint)i);
            if (i < n)
            {
                Span<float> tail = stackalloc float[Vector512<float>.Count];
                x[i..].CopyTo(tail);
                Tanh(Vector512.Create<float>(tail)).CopyTo(tail);
                tail[..(n - i)].CopyTo(y[i..]);
            }
        }
        else
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
                Tanh(Vector256.LoadUnsafe(ref src, (nuint)i)).StoreUnsafe(ref dst, (nuint)i);
            if (i < n)
            {
                Span<float> tail = stackalloc float[Vector256<float>.Count];
                x[i..].CopyTo(tail);
                Tanh(Vector256.Create<float>(tail)).CopyTo(tail);
                tail[..(n - i)].CopyTo(y[i..]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Tanh(Vector512<float> x)
    {
        var (lower, upper) = Vector512.Widen(x);
        return Vector512.Narrow(Tanh(lower), Tanh(upper));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Tanh(Vector256<float> x)
    {
        var (lower, upper) = Vector256.Widen(x);
        return Vector256.Narrow(Tanh(lower), Tanh(upper));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Tanh(Vector512<double> x)
    {
        var ax = Vector512.Abs(x);
        var z = x * x;
        var p = (Vector512.Create(TanhP0) * z + Vector512.Create(TanhP1)) * z + Vector512.Create(TanhP2);
        var q = ((z + Vector512.Create(TanhQ0)) * z + Vector512.Create(TanhQ1)) * z + Vector512.Create(TanhQ2);
        var small = x + x * z * (p / q);
        var e = Vector512.Exp(ax + ax);
        var large = Vector512<double>.One - Vector512.Create(2.0) / (e + Vector512<double>.One);
        var magnitude = Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(TanhRationalBound)), small, large);
        // tanh is odd: the sign bit comes from x, which also makes tanh(-0) = -0.
        return Vector512.ConditionalSelect(Vector512.Create(-0.0), x, magnitude);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Tanh(Vector256<double> x)
    {
        var ax = Vector256.Abs(x);
        var z = x * x;
        var p = (Vector256.Create(TanhP0) * z + Vector256.Create(TanhP1)) * z + Vector256.Create(TanhP2);
        var q = ((z + Vector256.Create(TanhQ0)) * z + Vector256.Create(TanhQ1)) * z + Vector256.Create(TanhQ2);
        var small = x + x * z * (p / q);
        var e = Vector256.Exp(ax + ax);
        var large = Vector256<double>.One - Vector256.Create(2.0) / (e + Vector256<double>.One);
        var magnitude = Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(TanhRationalBound)), small, large);
        // tanh is odd: the sign bit comes from x, which also makes tanh(-0) = -0.
        return Vector256.ConditionalSelect(Vector256.Create(-0.0), x, magnitude);
    }

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
