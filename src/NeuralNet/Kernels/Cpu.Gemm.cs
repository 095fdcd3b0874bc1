using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NeuralNet.Kernels;

/// <summary>
/// Span kernels for the hot loops. Free functions, outputs first where practical, no allocation.
/// Every optimized kernel keeps a naive reference beside it (the <c>…Naive</c> methods): the test oracle and the fallback.
/// </summary>
internal static partial class Cpu
{
    /// <summary>
    /// General matrix multiply, row-major: C[m×n] = op(A)·op(B) (+ C when <paramref name="accumulate"/>).
    /// </summary>
    /// <remarks>
    /// op(A) is m×k: A stored m×k (row stride <paramref name="lda"/> ≥ k) when <paramref name="transA"/> is false,
    /// or stored k×m (stride ≥ m) and read transposed when true. Likewise op(B) is k×n: B stored k×n or n×k.
    /// No transposed copy is materialized by callers. C has row stride <paramref name="ldc"/> ≥ n and must not overlap A or B.
    /// Dispatches to the fastest available implementation; bit-identical for any thread count.
    /// </remarks>
    public static void Gemm<T>(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ValidateGemm(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (typeof(T) == typeof(float) && Vector256.IsHardwareAccelerated)
        {
            GemmFloat(transA, transB, m, n, k,
                MemoryMarshal.Cast<T, float>(a), lda, MemoryMarshal.Cast<T, float>(b), ldb,
                MemoryMarshal.Cast<T, float>(c), ldc, accumulate);
        }
        else if (typeof(T) == typeof(double))
        {
            GemmDouble(transA, transB, m, n, k,
                MemoryMarshal.Cast<T, double>(a), lda, MemoryMarshal.Cast<T, double>(b), ldb,
                MemoryMarshal.Cast<T, double>(c), ldc, accumulate);
        }
        else
        {
            GemmNaive(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        }
    }

    /// <summary>Checks sizes and strides so the unchecked kernels can never read or write outside the spans.</summary>
    internal static void ValidateGemm(bool transA, bool transB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentException($"Gemm: dimensions must be non-negative, got m = {m}, n = {n}, k = {k}.");
        CheckOperand("A", transA ? k : m, transA ? m : k, aLength, lda);
        CheckOperand("B", transB ? n : k, transB ? k : n, bLength, ldb);
        CheckOperand("C", m, n, cLength, ldc);

        static void CheckOperand(string name, int rows, int cols, int length, int ld)
        {
            if (rows == 0 || cols == 0) return;
            if (ld < cols)
                throw new ArgumentException($"Gemm: {name} is stored {rows}×{cols} and needs a row stride ≥ {cols}, got {ld}.");
            long needed = (long)(rows - 1) * ld + cols;
            if (needed > length)
                throw new ArgumentException(
                    $"Gemm: {name} is stored {rows}×{cols} with row stride {ld} and needs {needed} elements, got {length}.");
        }
    }

    /// <summary>
    /// Double precision (used for gradient checks): SIMD over rows of C when op(B) rows are contiguous, dot products
    /// when B is read transposed. Single-threaded, so trivially deterministic.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GemmDouble(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb, Span<double> c, int ldc, bool accumulate)
    {
        if (m == 0 || n == 0) return;
        fixed (double* pa = a)
        fixed (double* pb = b)
        fixed (double* pc = c)
        {
            for (int i = 0; i < m; i++)
            {
                double* cRow = pc + (nint)i * ldc;
                if (!transB)
                {
                    // C[i,:] = Σ_p A[i,p]·B[p,:], summed into a cleared row then added, like the naive reference.
                    Span<double> row = new(cRow, n);
                    if (!accumulate) row.Clear();
                    for (int p = 0; p < k; p++)
                    {
                        double aip = transA ? pa[(nint)p * lda + i] : pa[(nint)i * lda + p];
                        double* bRow = pb + (nint)p * ldb;
                        int j = 0;
                        if (Vector256.IsHardwareAccelerated)
                        {
                            Vector256<double> av = Vector256.Create(aip);
                            for (; j <= n - 4; j += 4)
                                Vector256.Store(Vector256.FusedMultiplyAdd(av, Vector256.Load(bRow + j), Vector256.Load(cRow + j)), cRow + j);
                        }
                        for (; j < n; j++) cRow[j] = Math.FusedMultiplyAdd(aip, bRow[j], cRow[j]);
                    }
                }
                else
                {
                    for (int j = 0; j < n; j++)
                    {
                        double* bRow = pb + (nint)j * ldb;
                        double sum = 0;
                        if (!transA)
                        {
                            sum = System.Numerics.Tensors.TensorPrimitives.Dot(new ReadOnlySpan<double>(pa + (nint)i * lda, k),
                                new ReadOnlySpan<double>(bRow, k));
                        }
                        else
                        {
                            for (int p = 0; p < k; p++) sum += pa[(nint)p * lda + i] * bRow[p];
                        }
                        cRow[j] = accumulate ? cRow[j] + sum : sum;
                    }
                }
            }
        }
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
