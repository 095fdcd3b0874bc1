using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NeuralNet.Kernels;

/// <summary>
/// The AVX2 single-precision micro-kernel for machines without AVX-512: a 6×16 tile of C in 12 <see cref="Vector256{T}"/>
/// accumulators.
/// </summary>
/// <remarks>
/// Without AVX-512 there are only 16 ymm registers: 12 accumulators + 2 B vectors + 1 broadcast fit exactly.
/// Same FMA-chain-per-element order as <see cref="GemmFloat512"/>, so both paths give identical results.
/// </remarks>
internal readonly struct GemmFloat256 : IGemmMicroKernel
{
    public static int MR => 6;
    public static int NR => 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool add)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;

        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b);
            Vector256<float> b1 = Vector256.Load(b + 8);
            Vector256<float> av;
            av = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            a += 6;
            b += ldb;
        }

        if (add)
        {
            c00 += Vector256.Load(c); c01 += Vector256.Load(c + 8); c += ldc;
            c10 += Vector256.Load(c); c11 += Vector256.Load(c + 8); c += ldc;
            c20 += Vector256.Load(c); c21 += Vector256.Load(c + 8); c += ldc;
            c30 += Vector256.Load(c); c31 += Vector256.Load(c + 8); c += ldc;
            c40 += Vector256.Load(c); c41 += Vector256.Load(c + 8); c += ldc;
            c50 += Vector256.Load(c); c51 += Vector256.Load(c + 8);
            c -= 5 * ldc;
        }
        c00.Store(c); c01.Store(c + 8); c += ldc;
        c10.Store(c); c11.Store(c + 8); c += ldc;
        c20.Store(c); c21.Store(c + 8); c += ldc;
        c30.Store(c); c31.Store(c + 8); c += ldc;
        c40.Store(c); c41.Store(c + 8); c += ldc;
        c50.Store(c); c51.Store(c + 8);
    }

    /// <summary>The first 3 rows of a tile (the panel keeps its 6-value stride), same per-element arithmetic as <see cref="Run"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void RunHalf(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool add)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;

        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b);
            Vector256<float> b1 = Vector256.Load(b + 8);
            Vector256<float> av;
            av = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            a += 6;
            b += ldb;
        }

        if (add)
        {
            c00 += Vector256.Load(c); c01 += Vector256.Load(c + 8); c += ldc;
            c10 += Vector256.Load(c); c11 += Vector256.Load(c + 8); c += ldc;
            c20 += Vector256.Load(c); c21 += Vector256.Load(c + 8);
            c -= 2 * ldc;
        }
        c00.Store(c); c01.Store(c + 8); c += ldc;
        c10.Store(c); c11.Store(c + 8); c += ldc;
        c20.Store(c); c21.Store(c + 8);
    }

    /// <summary>
    /// <see cref="Run"/> with A read in place from a row-major matrix: row r of the panel at <paramref name="a"/> + r·lda,
    /// the k steps contiguous. The same FMA chain per element as <see cref="Run"/>, so it gives the same bits; it saves packing
    /// A when the panel would be used for only a few column tiles (a layer forward X·Wᵀ with few output features).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void RunRows(int kc, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool add)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;

        // Rows as base + L·{0,1,2} with L = lda in bytes: one x86 addressing mode each, four bases advanced per k step.
        nint l = lda * sizeof(float);
        byte* a0 = (byte*)a, a3 = (byte*)a + 3 * l;
        const int ahead = Cpu.GemmRowsPrefetchBytes;
        for (int p = 0; p < kc; p++)
        {
            // As in GemmFloat512.RunRows: the lines `ahead` bytes on in each row, once per 16 k steps.
            if (Sse.IsSupported && (p & 15) == 0)
            {
                Sse.Prefetch0(a0 + ahead); Sse.Prefetch0(a0 + l + ahead); Sse.Prefetch0(a0 + 2 * l + ahead);
                Sse.Prefetch0(a3 + ahead); Sse.Prefetch0(a3 + l + ahead); Sse.Prefetch0(a3 + 2 * l + ahead);
            }
            Vector256<float> b0 = Vector256.Load(b);
            Vector256<float> b1 = Vector256.Load(b + 8);
            Vector256<float> av = Vector256.Create(*(float*)(a0));
            c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(*(float*)(a0 + l));
            c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(*(float*)(a0 + 2 * l));
            c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(*(float*)(a3));
            c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(*(float*)(a3 + l));
            c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(*(float*)(a3 + 2 * l));
            c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            a0 += sizeof(float); a3 += sizeof(float);
            b += ldb;
        }

        if (add)
        {
            c00 += Vector256.Load(c); c01 += Vector256.Load(c + 8); c += ldc;
            c10 += Vector256.Load(c); c11 += Vector256.Load(c + 8); c += ldc;
            c20 += Vector256.Load(c); c21 += Vector256.Load(c + 8); c += ldc;
            c30 += Vector256.Load(c); c31 += Vector256.Load(c + 8); c += ldc;
            c40 += Vector256.Load(c); c41 += Vector256.Load(c + 8); c += ldc;
            c50 += Vector256.Load(c); c51 += Vector256.Load(c + 8);
            c -= 5 * ldc;
        }
        c00.Store(c); c01.Store(c + 8); c += ldc;
        c10.Store(c); c11.Store(c + 8); c += ldc;
        c20.Store(c); c21.Store(c + 8); c += ldc;
        c30.Store(c); c31.Store(c + 8); c += ldc;
        c40.Store(c); c41.Store(c + 8); c += ldc;
        c50.Store(c); c51.Store(c + 8);
    }
}
