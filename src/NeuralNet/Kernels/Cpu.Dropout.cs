using System.Numerics;
using System.Runtime.CompilerServices;

namespace NeuralNet.Kernels;

// Dropout masks from a counter-based hash: element i of a mask drawn with key k keeps its value when the high 32 bits of
// Mix(k, i) are at least the threshold. The module draws one key per training step from its seeded RandomGenerator, so
// each element's draw depends only on (key, i): the mask is the same bits however the elements are split over the
// kernel threads, and a step costs one draw from the generator whatever the tensor size.
internal static partial class Cpu
{
    /// <summary>SplitMix64's finalizer of key + (i + 1)·φ: a well-mixed 64-bit hash of the pair (key, i).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong DropoutHash(ulong key, long i)
    {
        ulong z = key + (ulong)(i + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The 32-bit threshold for a drop probability p: an element is dropped when its draw is below it.</summary>
    internal static ulong DropoutThreshold(double p) => (ulong)Math.Round(p * 4294967296.0);

    /// <summary>Reference mask: mask[i] = (DropoutHash(key, i) &gt;&gt; 32) ≥ threshold ? scale : 0.</summary>
    public static void DropoutMaskNaive<T>(Span<T> mask, ulong key, ulong threshold, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < mask.Length; i++) mask[i] = (DropoutHash(key, i) >> 32) >= threshold ? scale : T.Zero;
    }

    /// <summary>
    /// The mask of <see cref="DropoutMaskNaive{T}"/>, identical bits; large masks are filled in parallel parts (each element
    /// depends only on its index).
    /// </summary>
    public static unsafe void DropoutMask<T>(Span<T> mask, ulong key, ulong threshold, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int parts = ElementwiseParts(mask.Length, (mask.Length + 63) / 64);
        if (parts <= 1)
        {
            FillMask(mask, 0, key, threshold, scale);
            return;
        }
        fixed (T* pm = mask)
        {
            var job = DropoutJob<T>.ForThisThread;
            job.Mask = pm;
            (job.Length, job.Key, job.Threshold, job.Scale) = (mask.Length, key, threshold, scale);
            try
            {
                KernelThreads.Run(job, parts);
            }
            finally
            {
                job.Mask = null;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FillMask<T>(Span<T> mask, long offset, ulong key, ulong threshold, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < mask.Length; i++) mask[i] = (DropoutHash(key, offset + i) >> 32) >= threshold ? scale : T.Zero;
    }

    private sealed unsafe class DropoutJob<T> : ParallelJob where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static DropoutJob<T>? t_job;
        public T* Mask;
        public int Length;
        public ulong Key, Threshold;
        public T Scale;

        public static DropoutJob<T> ForThisThread => t_job ??= new DropoutJob<T>();

        public override void Execute(int part, int parts)
        {
            (int start, int count) = KernelThreads.PartRange(Length, part, parts, 64);
            if (count > 0) FillMask(new Span<T>(Mask + start, count), start, Key, Threshold, Scale);
        }
    }
}
