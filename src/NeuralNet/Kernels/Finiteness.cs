using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Kernels;

/// <summary>The one search for NaN and infinity that every input check, loader and diagnosis uses.</summary>
internal static class Finiteness
{
    /// <summary>
    /// The index of the first NaN or infinity in <paramref name="values"/>, or −1 when all are finite: one vectorized pass
    /// in the common case, the element-by-element search only when there is something to find.
    /// </summary>
    public static int FirstNonFinite<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (AllFinite(values)) return -1;
        for (int i = 0; i < values.Length; i++)
            if (!T.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>Whether every element of <paramref name="values"/> is finite (neither NaN nor infinite).</summary>
    public static bool AllFinite<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float)) return TensorPrimitives.IsFiniteAll(values);
        ReadOnlySpan<int> bits = MemoryMarshal.Cast<T, int>(values);
        int parts = KernelThreads.PartCount(bits.Length, ParallelMinLength);
        return parts <= 1 ? AllFiniteSingle(bits) : AllFiniteParallel(bits, parts);
    }

    /// <summary>
    /// From this many floats the search runs on the kernel threads: it reads each value once, from wherever the tensor
    /// sits (a new batch usually comes from L3 or memory), and two cores fetch faster than one.
    /// </summary>
    internal const int ParallelMinLength = 64 * 1024;

    private static unsafe bool AllFiniteParallel(ReadOnlySpan<int> bits, int parts)
    {
        fixed (int* p = bits)
        {
            var job = t_job ??= new FinitenessJob();
            job.Set(p, bits.Length);
            try
            {
                KernelThreads.Run(job, parts);
                return job.AllFinite;
            }
            finally
            {
                job.Clear();
            }
        }
    }

    [ThreadStatic] private static FinitenessJob? t_job;

    /// <summary>One search cut into contiguous parts; any part that finds a non-finite value clears the answer.</summary>
    private sealed unsafe class FinitenessJob : ParallelJob
    {
        private int* _bits;
        private int _length;
        private volatile bool _allFinite;

        public bool AllFinite => _allFinite;

        public void Set(int* bits, int length)
        {
            _bits = bits;
            _length = length;
            _allFinite = true;
        }

        public void Clear() => _bits = null;

        public override void Execute(int part, int parts)
        {
            (int start, int count) = KernelThreads.PartRange(_length, part, parts, 64);
            if (count > 0 && !AllFiniteSingle(new ReadOnlySpan<int>(_bits + start, count))) _allFinite = false;
        }
    }

    /// <summary>
    /// The float case over the raw bits: a float is NaN or infinite exactly when its exponent field is all ones, and with
    /// the sign and mantissa masked off that field is the largest value a masked element can take. So the test keeps a
    /// running maximum of the masked bits (an AND and a MAX per vector, no branch) and compares it once at the end,
    /// which is faster than <c>TensorPrimitives.IsFiniteAll</c>'s per-vector test (the benchmarks' FinitenessBenchmarks).
    /// </summary>
    private static bool AllFiniteSingle(ReadOnlySpan<int> bits)
    {
        const int exponent = 0x7F800000;
        ref int start = ref MemoryMarshal.GetReference(bits);
        nuint length = (nuint)bits.Length, i = 0;
        int max = 0;
        if (Vector512.IsHardwareAccelerated && length >= (nuint)Vector512<int>.Count)
        {
            var mask = Vector512.Create(exponent);
            Vector512<int> m0 = default, m1 = default, m2 = default, m3 = default;
            for (; i + 64 <= length; i += 64)
            {
                m0 = Vector512.Max(m0, Vector512.LoadUnsafe(ref start, i) & mask);
                m1 = Vector512.Max(m1, Vector512.LoadUnsafe(ref start, i + 16) & mask);
                m2 = Vector512.Max(m2, Vector512.LoadUnsafe(ref start, i + 32) & mask);
                m3 = Vector512.Max(m3, Vector512.LoadUnsafe(ref start, i + 48) & mask);
            }
            for (; i + 16 <= length; i += 16)
                m0 = Vector512.Max(m0, Vector512.LoadUnsafe(ref start, i) & mask);
            if (Vector512.EqualsAny(Vector512.Max(Vector512.Max(m0, m1), Vector512.Max(m2, m3)), mask)) return false;
        }
        else if (Vector256.IsHardwareAccelerated && length >= (nuint)Vector256<int>.Count)
        {
            var mask = Vector256.Create(exponent);
            Vector256<int> m0 = default, m1 = default, m2 = default, m3 = default;
            for (; i + 32 <= length; i += 32)
            {
                m0 = Vector256.Max(m0, Vector256.LoadUnsafe(ref start, i) & mask);
                m1 = Vector256.Max(m1, Vector256.LoadUnsafe(ref start, i + 8) & mask);
                m2 = Vector256.Max(m2, Vector256.LoadUnsafe(ref start, i + 16) & mask);
                m3 = Vector256.Max(m3, Vector256.LoadUnsafe(ref start, i + 24) & mask);
            }
            for (; i + 8 <= length; i += 8)
                m0 = Vector256.Max(m0, Vector256.LoadUnsafe(ref start, i) & mask);
            if (Vector256.EqualsAny(Vector256.Max(Vector256.Max(m0, m1), Vector256.Max(m2, m3)), mask)) return false;
        }
        for (; i < length; i++)
            max = Math.Max(max, Unsafe.Add(ref start, i) & exponent);
        return max != exponent;
    }
}
