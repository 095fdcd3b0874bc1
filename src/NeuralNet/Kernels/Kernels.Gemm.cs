using System.Numerics;
using System.Runtime.CompilerServices;

namespace NeuralNet.Kernels;

/// <summary>
/// Span kernels for the hot loops. Free functions, outputs first where practical, no allocation.
/// Every optimized kernel keeps a naive reference beside it (the <c>…Naive</c> methods): the test oracle and the fallback.
/// </summary>
internal static partial class Kernels
{
    /// <summary>
    /// General matrix multiply, row-major: C[m×n] = op(A)·op(B) (+ C when <paramref name="accumulate"/>).
    /// </summary>
    /// <remarks>
    /// op(A) is m×k: A stored m×k (row stride <paramref name="lda"/> ≥ k) when <paramref name="transA"/> is false,
    /// or stored k×m (stride ≥ m) and read transposed when true. Likewise op(B) is k×n: B stored k×n or n×k.
    /// No transposed copy is materialized by callers. C has row stride <paramref name="ldc"/> ≥ n.
    /// Dispatches to the fastest available implementation; bit-identical for any thread count.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Gemm<T>(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmNaive(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    }

    /// <summary>The reference GEMM: plain loops, accumulating in <typeparamref name="T"/> in order of k. Same contract as <see cref="Gemm{T}"/>.</summary>
    public static void GemmNaive<T>(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                T sum = T.Zero;
                for (int p = 0; p < k; p++)
                {
                    T av = transA ? a[p * lda + i] : a[i * lda + p];
                    T bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += av * bv;
                }
                ref T dst = ref c[i * ldc + j];
                dst = accumulate ? dst + sum : sum;
            }
        }
    }
}
