using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NeuralNet.Kernels;

internal static partial class Cpu
{
    // The row path: C[i,:] = Σ_p op(A)[i,p]·B[p,:] for B read along its rows (not transposed), vectorized over n with no
    // packing. For a handful of rows (batch 1) or a tiny k, packing B would cost more than the multiply itself.
    // Every element is one FMA chain over p from zero, then added to C, in whichever of the three loops it falls.

    /// <summary>Row path over a block of C, widest vectors first.</summary>
    private static unsafe void GemmFloatRows(bool transA, int m, int n, int k, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        if (Vector512.IsHardwareAccelerated) AxpyRows512(transA, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        else AxpyRows256(transA, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void AxpyRows512(bool transA, int m, int n, int k, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        nint aRow = transA ? 1 : lda, aStep = transA ? lda : 1;
        for (int i = 0; i < m; i++)
        {
            float* ai = a + i * aRow;
            float* cRow = c + i * ldc;
            int j = 0;
            for (; j <= n - 4 * 16; j += 4 * 16)
            {
                Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
                float* bp = b + j;
                for (int p = 0; p < k; p++, bp += ldb)
                {
                    Vector512<float> av = Vector512.Create(ai[p * aStep]);
                    s0 = Vector512.FusedMultiplyAdd(av, Vector512.Load(bp), s0);
                    s1 = Vector512.FusedMultiplyAdd(av, Vector512.Load(bp + 16), s1);
                    s2 = Vector512.FusedMultiplyAdd(av, Vector512.Load(bp + 32), s2);
                    s3 = Vector512.FusedMultiplyAdd(av, Vector512.Load(bp + 48), s3);
                }
                float* cj = cRow + j;
                if (accumulate)
                {
                    s0 += Vector512.Load(cj); s1 += Vector512.Load(cj + 16); s2 += Vector512.Load(cj + 32); s3 += Vector512.Load(cj + 48);
                }
                s0.Store(cj); s1.Store(cj + 16); s2.Store(cj + 32); s3.Store(cj + 48);
            }
            for (; j <= n - 16; j += 16)
            {
                Vector512<float> s0 = default;
                float* bp = b + j;
                for (int p = 0; p < k; p++, bp += ldb)
                    s0 = Vector512.FusedMultiplyAdd(Vector512.Create(ai[p * aStep]), Vector512.Load(bp), s0);
                if (accumulate) s0 += Vector512.Load(cRow + j);
                s0.Store(cRow + j);
            }
            for (; j < n; j++)
            {
                float sum = 0f;
                float* bp = b + j;
                for (int p = 0; p < k; p++, bp += ldb) sum = MathF.FusedMultiplyAdd(ai[p * aStep], *bp, sum);
                cRow[j] = accumulate ? cRow[j] + sum : sum;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void AxpyRows256(bool transA, int m, int n, int k, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        nint aRow = transA ? 1 : lda, aStep = transA ? lda : 1;
        for (int i = 0; i < m; i++)
        {
            float* ai = a + i * aRow;
            float* cRow = c + i * ldc;
            int j = 0;
            for (; j <= n - 4 * 8; j += 4 * 8)
            {
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                float* bp = b + j;
                for (int p = 0; p < k; p++, bp += ldb)
                {
                    Vector256<float> av = Vector256.Create(ai[p * aStep]);
                    s0 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp), s0);
                    s1 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp + 8), s1);
                    s2 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp + 16), s2);
                    s3 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp + 24), s3);
                }
                float* cj = cRow + j;
                if (accumulate)
                {
                    s0 += Vector256.Load(cj); s1 += Vector256.Load(cj + 8); s2 += Vector256.Load(cj + 16); s3 += Vector256.Load(cj + 24);
                }
                s0.Store(cj); s1.Store(cj + 8); s2.Store(cj + 16); s3.Store(cj + 24);
            }
            for (; j <= n - 8; j += 8)
            {
                Vector256<float> s0 = default;
                float* bp = b + j;
                for (int p = 0; p < k; p++, bp += ldb)
                    s0 = Vector256.FusedMultiplyAdd(Vector256.Create(ai[p * aStep]), Vector256.Load(bp), s0);
                if (accumulate) s0 += Vector256.Load(cRow + j);
                s0.Store(cRow + j);
            }
            for (; j < n; j++)
            {
                float sum = 0f;
                float* bp = b + j;
                for (int p = 0; p < k; p++, bp += ldb) sum = MathF.FusedMultiplyAdd(ai[p * aStep], *bp, sum);
                cRow[j] = accumulate ? cRow[j] + sum : sum;
            }
        }
    }
}
