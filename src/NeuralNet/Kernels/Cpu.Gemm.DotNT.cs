using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NeuralNet.Kernels;

internal static partial class Cpu
{
    // The NT dot path: C = A·Bᵀ with A (m×k) and B (n×k) both read along k, no packing. The layer forward x·Wᵀ of
    // small batches lands here: packing (transposing) W would cost as much as the multiply itself.

    /// <summary>
    /// C[4×4] (+)= A[4 rows]·B[4 rows]ᵀ with both operands read along k (16 lanes): 16 accumulators, one per element.
    /// Each element is <see cref="DotNT512"/>'s exact sequence, so block and edge elements agree bit for bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotNT512Block(int k, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda;
        float* b0 = b, b1 = b + ldb, b2 = b + 2 * ldb, b3 = b + 3 * ldb;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default, s20 = default, s21 = default, s22 = default, s23 = default, s30 = default, s31 = default, s32 = default, s33 = default;
        int p = 0;
        for (; p <= k - 16; p += 16)
        {
                Vector512<float> va0 = Vector512.Load(a0 + p);
                Vector512<float> va1 = Vector512.Load(a1 + p);
                Vector512<float> va2 = Vector512.Load(a2 + p);
                Vector512<float> va3 = Vector512.Load(a3 + p);
                Vector512<float> vb0 = Vector512.Load(b0 + p);
                Vector512<float> vb1 = Vector512.Load(b1 + p);
                Vector512<float> vb2 = Vector512.Load(b2 + p);
                Vector512<float> vb3 = Vector512.Load(b3 + p);
                s00 = Vector512.FusedMultiplyAdd(va0, vb0, s00); s01 = Vector512.FusedMultiplyAdd(va0, vb1, s01); s02 = Vector512.FusedMultiplyAdd(va0, vb2, s02); s03 = Vector512.FusedMultiplyAdd(va0, vb3, s03);
                s10 = Vector512.FusedMultiplyAdd(va1, vb0, s10); s11 = Vector512.FusedMultiplyAdd(va1, vb1, s11); s12 = Vector512.FusedMultiplyAdd(va1, vb2, s12); s13 = Vector512.FusedMultiplyAdd(va1, vb3, s13);
                s20 = Vector512.FusedMultiplyAdd(va2, vb0, s20); s21 = Vector512.FusedMultiplyAdd(va2, vb1, s21); s22 = Vector512.FusedMultiplyAdd(va2, vb2, s22); s23 = Vector512.FusedMultiplyAdd(va2, vb3, s23);
                s30 = Vector512.FusedMultiplyAdd(va3, vb0, s30); s31 = Vector512.FusedMultiplyAdd(va3, vb1, s31); s32 = Vector512.FusedMultiplyAdd(va3, vb2, s32); s33 = Vector512.FusedMultiplyAdd(va3, vb3, s33);
        }
            Finish(Vector512.Sum(s00), a0, b0, p, k, c + 0 * ldc + 0, accumulate); Finish(Vector512.Sum(s01), a0, b1, p, k, c + 0 * ldc + 1, accumulate); Finish(Vector512.Sum(s02), a0, b2, p, k, c + 0 * ldc + 2, accumulate); Finish(Vector512.Sum(s03), a0, b3, p, k, c + 0 * ldc + 3, accumulate);
            Finish(Vector512.Sum(s10), a1, b0, p, k, c + 1 * ldc + 0, accumulate); Finish(Vector512.Sum(s11), a1, b1, p, k, c + 1 * ldc + 1, accumulate); Finish(Vector512.Sum(s12), a1, b2, p, k, c + 1 * ldc + 2, accumulate); Finish(Vector512.Sum(s13), a1, b3, p, k, c + 1 * ldc + 3, accumulate);
            Finish(Vector512.Sum(s20), a2, b0, p, k, c + 2 * ldc + 0, accumulate); Finish(Vector512.Sum(s21), a2, b1, p, k, c + 2 * ldc + 1, accumulate); Finish(Vector512.Sum(s22), a2, b2, p, k, c + 2 * ldc + 2, accumulate); Finish(Vector512.Sum(s23), a2, b3, p, k, c + 2 * ldc + 3, accumulate);
            Finish(Vector512.Sum(s30), a3, b0, p, k, c + 3 * ldc + 0, accumulate); Finish(Vector512.Sum(s31), a3, b1, p, k, c + 3 * ldc + 1, accumulate); Finish(Vector512.Sum(s32), a3, b2, p, k, c + 3 * ldc + 2, accumulate); Finish(Vector512.Sum(s33), a3, b3, p, k, c + 3 * ldc + 3, accumulate);
    }

    /// <summary>One element of the NT dot path: 16-lane FMA chain over k, lane sum, scalar FMA tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotNT512(int k, float* a, float* b, float* c, bool accumulate)
    {
        Vector512<float> s = default;
        int p = 0;
        for (; p <= k - 16; p += 16) s = Vector512.FusedMultiplyAdd(Vector512.Load(a + p), Vector512.Load(b + p), s);
        Finish(Vector512.Sum(s), a, b, p, k, c, accumulate);
    }

    /// <summary>
    /// C[4×4] (+)= A[4 rows]·B[4 rows]ᵀ with both operands read along k (8 lanes): 16 accumulators, one per element.
    /// Each element is <see cref="DotNT256"/>'s exact sequence, so block and edge elements agree bit for bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotNT256Block(int k, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda;
        float* b0 = b, b1 = b + ldb, b2 = b + 2 * ldb, b3 = b + 3 * ldb;
        Vector256<float> s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default, s20 = default, s21 = default, s22 = default, s23 = default, s30 = default, s31 = default, s32 = default, s33 = default;
        int p = 0;
        for (; p <= k - 8; p += 8)
        {
                Vector256<float> va0 = Vector256.Load(a0 + p);
                Vector256<float> va1 = Vector256.Load(a1 + p);
                Vector256<float> va2 = Vector256.Load(a2 + p);
                Vector256<float> va3 = Vector256.Load(a3 + p);
                Vector256<float> vb0 = Vector256.Load(b0 + p);
                Vector256<float> vb1 = Vector256.Load(b1 + p);
                Vector256<float> vb2 = Vector256.Load(b2 + p);
                Vector256<float> vb3 = Vector256.Load(b3 + p);
                s00 = Vector256.FusedMultiplyAdd(va0, vb0, s00); s01 = Vector256.FusedMultiplyAdd(va0, vb1, s01); s02 = Vector256.FusedMultiplyAdd(va0, vb2, s02); s03 = Vector256.FusedMultiplyAdd(va0, vb3, s03);
                s10 = Vector256.FusedMultiplyAdd(va1, vb0, s10); s11 = Vector256.FusedMultiplyAdd(va1, vb1, s11); s12 = Vector256.FusedMultiplyAdd(va1, vb2, s12); s13 = Vector256.FusedMultiplyAdd(va1, vb3, s13);
                s20 = Vector256.FusedMultiplyAdd(va2, vb0, s20); s21 = Vector256.FusedMultiplyAdd(va2, vb1, s21); s22 = Vector256.FusedMultiplyAdd(va2, vb2, s22); s23 = Vector256.FusedMultiplyAdd(va2, vb3, s23);
                s30 = Vector256.FusedMultiplyAdd(va3, vb0, s30); s31 = Vector256.FusedMultiplyAdd(va3, vb1, s31); s32 = Vector256.FusedMultiplyAdd(va3, vb2, s32); s33 = Vector256.FusedMultiplyAdd(va3, vb3, s33);
        }
            Finish(Vector256.Sum(s00), a0, b0, p, k, c + 0 * ldc + 0, accumulate); Finish(Vector256.Sum(s01), a0, b1, p, k, c + 0 * ldc + 1, accumulate); Finish(Vector256.Sum(s02), a0, b2, p, k, c + 0 * ldc + 2, accumulate); Finish(Vector256.Sum(s03), a0, b3, p, k, c + 0 * ldc + 3, accumulate);
            Finish(Vector256.Sum(s10), a1, b0, p, k, c + 1 * ldc + 0, accumulate); Finish(Vector256.Sum(s11), a1, b1, p, k, c + 1 * ldc + 1, accumulate); Finish(Vector256.Sum(s12), a1, b2, p, k, c + 1 * ldc + 2, accumulate); Finish(Vector256.Sum(s13), a1, b3, p, k, c + 1 * ldc + 3, accumulate);
            Finish(Vector256.Sum(s20), a2, b0, p, k, c + 2 * ldc + 0, accumulate); Finish(Vector256.Sum(s21), a2, b1, p, k, c + 2 * ldc + 1, accumulate); Finish(Vector256.Sum(s22), a2, b2, p, k, c + 2 * ldc + 2, accumulate); Finish(Vector256.Sum(s23), a2, b3, p, k, c + 2 * ldc + 3, accumulate);
            Finish(Vector256.Sum(s30), a3, b0, p, k, c + 3 * ldc + 0, accumulate); Finish(Vector256.Sum(s31), a3, b1, p, k, c + 3 * ldc + 1, accumulate); Finish(Vector256.Sum(s32), a3, b2, p, k, c + 3 * ldc + 2, accumulate); Finish(Vector256.Sum(s33), a3, b3, p, k, c + 3 * ldc + 3, accumulate);
    }

    /// <summary>One element of the NT dot path: 8-lane FMA chain over k, lane sum, scalar FMA tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotNT256(int k, float* a, float* b, float* c, bool accumulate)
    {
        Vector256<float> s = default;
        int p = 0;
        for (; p <= k - 8; p += 8) s = Vector256.FusedMultiplyAdd(Vector256.Load(a + p), Vector256.Load(b + p), s);
        Finish(Vector256.Sum(s), a, b, p, k, c, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Finish(float sum, float* a, float* b, int p, int k, float* c, bool accumulate)
    {
        for (; p < k; p++) sum = MathF.FusedMultiplyAdd(a[p], b[p], sum);
        *c = accumulate ? *c + sum : sum;
    }

    /// <summary>The NT dot path over a block of C: 4×4 blocks, then single elements on the edges.</summary>
    private static unsafe void GemmFloatDotNT(int m, int n, int k, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        bool wide = Vector512.IsHardwareAccelerated;
        int m4 = m & ~3, n4 = n & ~3;
        for (int i = 0; i < m; i += 4)
        {
            for (int j = 0; j < n; j += 4)
            {
                if (i < m4 && j < n4)
                {
                    if (wide) DotNT512Block(k, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc, accumulate);
                    else DotNT256Block(k, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc, accumulate);
                    continue;
                }
                for (int r = i; r < Math.Min(i + 4, m); r++)
                for (int q = j; q < Math.Min(j + 4, n); q++)
                {
                    if (wide) DotNT512(k, a + r * lda, b + q * ldb, c + r * ldc + q, accumulate);
                    else DotNT256(k, a + r * lda, b + q * ldb, c + r * ldc + q, accumulate);
                }
            }
        }
    }
}
