using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Kernels;

// LeakyReLU and GELU (tanh approximation), forward and backward. Each rule is written once per vector width and once
// for the scalar tail with the same operations in the same order; GELU's tanh comes from TensorPrimitives.Tanh on the
// pre-activation, computed into the module's cache (its backward pass needs it). Large tensors run in parallel parts of
// whole 64-element blocks, so each element gets the same code path whatever the thread count (same bits).
internal static partial class Cpu
{
    /// <summary>√(2/π), GELU's tanh-approximation scale.</summary>
    internal const double GeluK = 0.7978845608028654;

    /// <summary>The cubic coefficient of GELU's tanh approximation.</summary>
    internal const double GeluC = 0.044715;

    private enum PointOp { LeakyForward, LeakyBackward, GeluForward, GeluBackward }

    /// <summary>Reference LeakyReLU: y = x &gt; 0 ? x : slope·x.</summary>
    public static void LeakyReluForwardNaive<T>(Span<T> y, ReadOnlySpan<T> x, T slope) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero ? x[i] : slope * x[i];
    }

    /// <summary>Reference LeakyReLU backward: dx = x &gt; 0 ? dy : slope·dy.</summary>
    public static void LeakyReluBackwardNaive<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, T slope) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) dx[i] = x[i] > T.Zero ? dy[i] : slope * dy[i];
    }

    /// <summary>Reference GELU (tanh): t = tanh(k·(x + c·x³)), y = 0.5·x·(1 + t), k = √(2/π), c = 0.044715.</summary>
    public static void GeluForwardNaive<T>(Span<T> y, Span<T> t, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T k = T.CreateChecked(GeluK), c = T.CreateChecked(GeluC), half = T.CreateChecked(0.5);
        for (int i = 0; i < x.Length; i++)
        {
            t[i] = T.Tanh(k * (x[i] + c * x[i] * x[i] * x[i]));
            y[i] = half * x[i] * (T.One + t[i]);
        }
    }

    /// <summary>Reference GELU backward: dx = dy·(0.5·(1 + t) + 0.5·x·(1 − t²)·k·(1 + 3c·x²)).</summary>
    public static void GeluBackwardNaive<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> t) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T k = T.CreateChecked(GeluK), c3 = T.CreateChecked(3 * GeluC), half = T.CreateChecked(0.5);
        for (int i = 0; i < x.Length; i++)
            dx[i] = dy[i] * (half * (T.One + t[i]) + half * x[i] * (T.One - t[i] * t[i]) * k * (T.One + c3 * x[i] * x[i]));
    }

    /// <summary>LeakyReLU forward, the same values as <see cref="LeakyReluForwardNaive{T}"/>.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void LeakyReluForward<T>(Span<T> y, ReadOnlySpan<T> x, T slope) where T : unmanaged, IFloatingPointIeee754<T>
        => RunPoint(PointOp.LeakyForward, y, x, default, default, slope);

    /// <summary>LeakyReLU backward, the same values as <see cref="LeakyReluBackwardNaive{T}"/>.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void LeakyReluBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, T slope) where T : unmanaged, IFloatingPointIeee754<T>
        => RunPoint(PointOp.LeakyBackward, dx, dy, x, default, slope);

    /// <summary>GELU forward; <paramref name="t"/> receives tanh(k·(x + c·x³)) for the backward pass. Within rounding of the naive reference (the tanh is TensorPrimitives').</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void GeluForward<T>(Span<T> y, Span<T> t, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (t.Length != x.Length) throw new ArgumentException($"{nameof(GeluForward)}: t ({t.Length}) and x ({x.Length}) differ in length.");
        RunPoint(PointOp.GeluForward, y, x, default, t, T.Zero);
    }

    /// <summary>GELU backward from the forward input x and the cached t.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void GeluBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> t) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (t.Length != x.Length) throw new ArgumentException($"{nameof(GeluBackward)}: t ({t.Length}) and x ({x.Length}) differ in length.");
        RunPoint(PointOp.GeluBackward, dx, dy, x, MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(t), t.Length), T.Zero);
    }

    private static unsafe void RunPoint<T>(PointOp op, Span<T> dst, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> t, T slope)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool needsB = op is PointOp.LeakyBackward or PointOp.GeluBackward;
        if (dst.Length != a.Length || (needsB && b.Length != a.Length))
            throw new ArgumentException($"{op}: the spans differ in length ({dst.Length}, {a.Length}{(needsB ? $", {b.Length}" : "")}).");
        int length = a.Length;
        int parts = ElementwiseParts(length, (length + 63) / 64);
        if (parts <= 1)
        {
            ApplyPoint(op, dst, a, b, t, slope);
            return;
        }
        fixed (T* pd = dst, pa = a, pb = b, pt = t)
        {
            var job = PointJob<T>.ForThisThread;
            job.Set(op, pd, pa, pb, pt, length, slope);
            try
            {
                KernelThreads.Run(job, parts);
            }
            finally
            {
                job.Clear();
            }
        }
    }

    private static void ApplyPoint<T>(PointOp op, Span<T> dst, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> t, T slope)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case PointOp.LeakyForward: Map<T, LeakyForwardRule<T>>(dst, a, a, a, slope); break;
            case PointOp.LeakyBackward: Map<T, LeakyBackwardRule<T>>(dst, a, b, b, slope); break;
            case PointOp.GeluForward:
                Map<T, GeluInnerRule<T>>(t, a, a, a, slope);
                TensorPrimitives.Tanh<T>(t, t);
                Map<T, GeluOutputRule<T>>(dst, a, t, t, slope);
                break;
            default: Map<T, GeluGradientRule<T>>(dst, a, b, t, slope); break;
        }
    }

    /// <summary>An elementwise rule d = f(a, b, c; p) at each vector width and for the scalar tail, the same operations in the same order.</summary>
    private interface IPointRule<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        static abstract Vector512<T> Apply(Vector512<T> a, Vector512<T> b, Vector512<T> c, T p);
        static abstract Vector256<T> Apply(Vector256<T> a, Vector256<T> b, Vector256<T> c, T p);
        static abstract T Apply(T a, T b, T c, T p);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Map<T, TRule>(Span<T> d, ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> c, T p)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TRule : IPointRule<T>
    {
        ref T pa = ref MemoryMarshal.GetReference(a), pb = ref MemoryMarshal.GetReference(b), pc = ref MemoryMarshal.GetReference(c);
        ref T pd = ref MemoryMarshal.GetReference(d);
        int n = a.Length, i = 0;
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                TRule.Apply(Vector512.LoadUnsafe(ref pa, (nuint)i), Vector512.LoadUnsafe(ref pb, (nuint)i), Vector512.LoadUnsafe(ref pc, (nuint)i), p)
                    .StoreUnsafe(ref pd, (nuint)i);
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                TRule.Apply(Vector256.LoadUnsafe(ref pa, (nuint)i), Vector256.LoadUnsafe(ref pb, (nuint)i), Vector256.LoadUnsafe(ref pc, (nuint)i), p)
                    .StoreUnsafe(ref pd, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref pd, i) = TRule.Apply(Unsafe.Add(ref pa, i), Unsafe.Add(ref pb, i), Unsafe.Add(ref pc, i), p);
    }

    /// <summary>y = x &gt; 0 ? x : slope·x (a = x).</summary>
    private readonly struct LeakyForwardRule<T> : IPointRule<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static Vector512<T> Apply(Vector512<T> a, Vector512<T> b, Vector512<T> c, T p) =>
            Vector512.ConditionalSelect(Vector512.GreaterThan(a, Vector512<T>.Zero), a, a * Vector512.Create(p));
        public static Vector256<T> Apply(Vector256<T> a, Vector256<T> b, Vector256<T> c, T p) =>
            Vector256.ConditionalSelect(Vector256.GreaterThan(a, Vector256<T>.Zero), a, a * Vector256.Create(p));
        public static T Apply(T a, T b, T c, T p) => a > T.Zero ? a : a * p;
    }

    /// <summary>dx = x &gt; 0 ? dy : slope·dy (a = dy, b = x).</summary>
    private readonly struct LeakyBackwardRule<T> : IPointRule<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static Vector512<T> Apply(Vector512<T> a, Vector512<T> b, Vector512<T> c, T p) =>
            Vector512.ConditionalSelect(Vector512.GreaterThan(b, Vector512<T>.Zero), a, a * Vector512.Create(p));
        public static Vector256<T> Apply(Vector256<T> a, Vector256<T> b, Vector256<T> c, T p) =>
            Vector256.ConditionalSelect(Vector256.GreaterThan(b, Vector256<T>.Zero), a, a * Vector256.Create(p));
        public static T Apply(T a, T b, T c, T p) => b > T.Zero ? a : a * p;
    }

    /// <summary>u = k·(x + c·x·x·x) (a = x): GELU's tanh argument.</summary>
    private readonly struct GeluInnerRule<T> : IPointRule<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static Vector512<T> Apply(Vector512<T> a, Vector512<T> b, Vector512<T> c, T p) =>
            Vector512.Create(T.CreateChecked(GeluK)) * (a + Vector512.Create(T.CreateChecked(GeluC)) * a * a * a);
        public static Vector256<T> Apply(Vector256<T> a, Vector256<T> b, Vector256<T> c, T p) =>
            Vector256.Create(T.CreateChecked(GeluK)) * (a + Vector256.Create(T.CreateChecked(GeluC)) * a * a * a);
        public static T Apply(T a, T b, T c, T p) => T.CreateChecked(GeluK) * (a + T.CreateChecked(GeluC) * a * a * a);
    }

    /// <summary>y = 0.5·x·(1 + t) (a = x, b = t).</summary>
    private readonly struct GeluOutputRule<T> : IPointRule<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static Vector512<T> Apply(Vector512<T> a, Vector512<T> b, Vector512<T> c, T p) =>
            Vector512.Create(T.CreateChecked(0.5)) * a * (Vector512<T>.One + b);
        public static Vector256<T> Apply(Vector256<T> a, Vector256<T> b, Vector256<T> c, T p) =>
            Vector256.Create(T.CreateChecked(0.5)) * a * (Vector256<T>.One + b);
        public static T Apply(T a, T b, T c, T p) => T.CreateChecked(0.5) * a * (T.One + b);
    }

    /// <summary>dx = dy·(0.5·(1 + t) + 0.5·x·(1 − t·t)·k·(1 + 3c·x·x)) (a = dy, b = x, c = t).</summary>
    private readonly struct GeluGradientRule<T> : IPointRule<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static Vector512<T> Apply(Vector512<T> a, Vector512<T> b, Vector512<T> c, T p)
        {
            Vector512<T> half = Vector512.Create(T.CreateChecked(0.5)), one = Vector512<T>.One;
            return a * (half * (one + c) + half * b * (one - c * c) * Vector512.Create(T.CreateChecked(GeluK))
                * (one + Vector512.Create(T.CreateChecked(3 * GeluC)) * b * b));
        }

        public static Vector256<T> Apply(Vector256<T> a, Vector256<T> b, Vector256<T> c, T p)
        {
            Vector256<T> half = Vector256.Create(T.CreateChecked(0.5)), one = Vector256<T>.One;
            return a * (half * (one + c) + half * b * (one - c * c) * Vector256.Create(T.CreateChecked(GeluK))
                * (one + Vector256.Create(T.CreateChecked(3 * GeluC)) * b * b));
        }

        public static T Apply(T a, T b, T c, T p)
        {
            T half = T.CreateChecked(0.5);
            return a * (half * (T.One + c) + half * b * (T.One - c * c) * T.CreateChecked(GeluK) * (T.One + T.CreateChecked(3 * GeluC) * b * b));
        }
    }

    private sealed unsafe class PointJob<T> : ParallelJob where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static PointJob<T>? t_job;
        private PointOp _op;
        private T* _dst, _a, _b, _t;
        private int _length;
        private T _slope;

        public static PointJob<T> ForThisThread => t_job ??= new PointJob<T>();

        public void Set(PointOp op, T* dst, T* a, T* b, T* t, int length, T slope)
        {
            _op = op;
            _dst = dst;
            _a = a;
            _b = b;
            _t = t;
            _length = length;
            _slope = slope;
        }

        public void Clear()
        {
            _dst = _a = _b = _t = null;
        }

        public override void Execute(int part, int parts)
        {
            (int start, int count) = KernelThreads.PartRange(_length, part, parts, 64);
            if (count <= 0) return;
            ApplyPoint(_op, new Span<T>(_dst + start, count), new ReadOnlySpan<T>(_a + start, count),
                _b is null ? default : new ReadOnlySpan<T>(_b + start, count), _t is null ? default : new Span<T>(_t + start, count), _slope);
        }
    }
}
