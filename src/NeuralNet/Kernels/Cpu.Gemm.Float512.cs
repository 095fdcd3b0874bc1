using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NeuralNet.Kernels;

/// <summary>
/// The AVX-512 single-precision micro-kernel: a 12×32 tile of C held in 24 <see cref="Vector512{T}"/> accumulators.
/// </summary>
/// <remarks>
/// Per k step it loads two vectors of the packed B panel (32 columns) and broadcasts 12 values of the packed A panel,
/// issuing 24 FMAs: 24 accumulators + 2 B vectors + 1 broadcast fit the 32 zmm registers without spilling.
/// Every C element is one FMA chain over k in increasing order, so a tile computes the same bits whatever its position.
/// </remarks>
internal readonly struct GemmFloat512 : IGemmMicroKernel
{
    public static int MR => 12;
    public static int NR => 32;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool add)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default,
            c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;

        // Ask for the C tile now: it is loaded (add) or stored after the k loop, and in a large product each tile was
        // last touched a whole KC block ago, so its 12 rows (24 lines) come from L3 or memory. Fetched while the loop
        // runs, they cost nothing; fetched at the end, they stall it. Two lines per row: 32 floats, aligned or not, span
        // at most c .. c + 31.
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(c); Sse.Prefetch0(c + 31); Sse.Prefetch0(c + ldc); Sse.Prefetch0(c + ldc + 31);
            Sse.Prefetch0(c + 2 * ldc); Sse.Prefetch0(c + 2 * ldc + 31); Sse.Prefetch0(c + 3 * ldc); Sse.Prefetch0(c + 3 * ldc + 31);
            Sse.Prefetch0(c + 4 * ldc); Sse.Prefetch0(c + 4 * ldc + 31); Sse.Prefetch0(c + 5 * ldc); Sse.Prefetch0(c + 5 * ldc + 31);
            Sse.Prefetch0(c + 6 * ldc); Sse.Prefetch0(c + 6 * ldc + 31); Sse.Prefetch0(c + 7 * ldc); Sse.Prefetch0(c + 7 * ldc + 31);
            Sse.Prefetch0(c + 8 * ldc); Sse.Prefetch0(c + 8 * ldc + 31); Sse.Prefetch0(c + 9 * ldc); Sse.Prefetch0(c + 9 * ldc + 31);
            Sse.Prefetch0(c + 10 * ldc); Sse.Prefetch0(c + 10 * ldc + 31); Sse.Prefetch0(c + 11 * ldc); Sse.Prefetch0(c + 11 * ldc + 31);
        }

        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b);
            Vector512<float> b1 = Vector512.Load(b + 16);
            Vector512<float> av = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(av, b0, c60); c61 = Vector512.FusedMultiplyAdd(av, b1, c61);
            av = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(av, b0, c70); c71 = Vector512.FusedMultiplyAdd(av, b1, c71);
            av = Vector512.Create(a[8]);
            c80 = Vector512.FusedMultiplyAdd(av, b0, c80); c81 = Vector512.FusedMultiplyAdd(av, b1, c81);
            av = Vector512.Create(a[9]);
            c90 = Vector512.FusedMultiplyAdd(av, b0, c90); c91 = Vector512.FusedMultiplyAdd(av, b1, c91);
            av = Vector512.Create(a[10]);
            ca0 = Vector512.FusedMultiplyAdd(av, b0, ca0); ca1 = Vector512.FusedMultiplyAdd(av, b1, ca1);
            av = Vector512.Create(a[11]);
            cb0 = Vector512.FusedMultiplyAdd(av, b0, cb0); cb1 = Vector512.FusedMultiplyAdd(av, b1, cb1);
            a += 12;
            b += ldb;
        }

        if (add)
        {
            c00 += Vector512.Load(c); c01 += Vector512.Load(c + 16); c += ldc;
            c10 += Vector512.Load(c); c11 += Vector512.Load(c + 16); c += ldc;
            c20 += Vector512.Load(c); c21 += Vector512.Load(c + 16); c += ldc;
            c30 += Vector512.Load(c); c31 += Vector512.Load(c + 16); c += ldc;
            c40 += Vector512.Load(c); c41 += Vector512.Load(c + 16); c += ldc;
            c50 += Vector512.Load(c); c51 += Vector512.Load(c + 16); c += ldc;
            c60 += Vector512.Load(c); c61 += Vector512.Load(c + 16); c += ldc;
            c70 += Vector512.Load(c); c71 += Vector512.Load(c + 16); c += ldc;
            c80 += Vector512.Load(c); c81 += Vector512.Load(c + 16); c += ldc;
            c90 += Vector512.Load(c); c91 += Vector512.Load(c + 16); c += ldc;
            ca0 += Vector512.Load(c); ca1 += Vector512.Load(c + 16); c += ldc;
            cb0 += Vector512.Load(c); cb1 += Vector512.Load(c + 16);
            c -= 11 * ldc;
        }
        c00.Store(c); c01.Store(c + 16); c += ldc;
        c10.Store(c); c11.Store(c + 16); c += ldc;
        c20.Store(c); c21.Store(c + 16); c += ldc;
        c30.Store(c); c31.Store(c + 16); c += ldc;
        c40.Store(c); c41.Store(c + 16); c += ldc;
        c50.Store(c); c51.Store(c + 16); c += ldc;
        c60.Store(c); c61.Store(c + 16); c += ldc;
        c70.Store(c); c71.Store(c + 16); c += ldc;
        c80.Store(c); c81.Store(c + 16); c += ldc;
        c90.Store(c); c91.Store(c + 16); c += ldc;
        ca0.Store(c); ca1.Store(c + 16); c += ldc;
        cb0.Store(c); cb1.Store(c + 16);
    }

    /// <summary>
    /// The first 6 rows of a tile: for a last A panel with at most 6 valid rows (m = 30 → 12 + 12 + 6) it halves the work.
    /// The panel keeps its 12-value stride; each element is the same FMA chain as in <see cref="Run"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void RunHalf(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool add)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;

        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b);
            Vector512<float> b1 = Vector512.Load(b + 16);
            Vector512<float> av;
            av = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            a += 12;
            b += ldb;
        }

        if (add)
        {
            c00 += Vector512.Load(c); c01 += Vector512.Load(c + 16); c += ldc;
            c10 += Vector512.Load(c); c11 += Vector512.Load(c + 16); c += ldc;
            c20 += Vector512.Load(c); c21 += Vector512.Load(c + 16); c += ldc;
            c30 += Vector512.Load(c); c31 += Vector512.Load(c + 16); c += ldc;
            c40 += Vector512.Load(c); c41 += Vector512.Load(c + 16); c += ldc;
            c50 += Vector512.Load(c); c51 += Vector512.Load(c + 16);
            c -= 5 * ldc;
        }
        c00.Store(c); c01.Store(c + 16); c += ldc;
        c10.Store(c); c11.Store(c + 16); c += ldc;
        c20.Store(c); c21.Store(c + 16); c += ldc;
        c30.Store(c); c31.Store(c + 16); c += ldc;
        c40.Store(c); c41.Store(c + 16); c += ldc;
        c50.Store(c); c51.Store(c + 16);
    }

    /// <summary>
    /// <see cref="Run"/> with A read in place from a row-major matrix: row r of the panel at <paramref name="a"/> + r·lda,
    /// the k steps contiguous. The same FMA chain per element as <see cref="Run"/>, so it gives the same bits; it saves packing
    /// A when the panel would be used for only a few column tiles (a layer forward X·Wᵀ with few output features).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void RunRows(int kc, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool add)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default,
            c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;

        // Rows as base + L·{0,1,2} with L = lda in bytes: one x86 addressing mode each, four bases advanced per k step.
        nint l = lda * sizeof(float);
        byte* a0 = (byte*)a, a3 = (byte*)a + 3 * l, a6 = (byte*)a + 6 * l, a9 = (byte*)a + 9 * l;
        const int ahead = Cpu.GemmRowsPrefetchBytes;
        for (int p = 0; p < kc; p++)
        {
            // Every 16 k steps (one cache line of each row), ask for the lines `ahead` bytes on: twelve rows are more
            // streams than the hardware prefetcher keeps up with when A comes from L3 (Cpu.GemmRowsPrefetchBytes).
            if (Sse.IsSupported && (p & 15) == 0)
            {
                Sse.Prefetch0(a0 + ahead); Sse.Prefetch0(a0 + l + ahead); Sse.Prefetch0(a0 + 2 * l + ahead);
                Sse.Prefetch0(a3 + ahead); Sse.Prefetch0(a3 + l + ahead); Sse.Prefetch0(a3 + 2 * l + ahead);
                Sse.Prefetch0(a6 + ahead); Sse.Prefetch0(a6 + l + ahead); Sse.Prefetch0(a6 + 2 * l + ahead);
                Sse.Prefetch0(a9 + ahead); Sse.Prefetch0(a9 + l + ahead); Sse.Prefetch0(a9 + 2 * l + ahead);
            }
            Vector512<float> b0 = Vector512.Load(b);
            Vector512<float> b1 = Vector512.Load(b + 16);
            Vector512<float> av = Vector512.Create(*(float*)(a0));
            c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(*(float*)(a0 + l));
            c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(*(float*)(a0 + 2 * l));
            c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(*(float*)(a3));
            c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(*(float*)(a3 + l));
            c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(*(float*)(a3 + 2 * l));
            c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(*(float*)(a6));
            c60 = Vector512.FusedMultiplyAdd(av, b0, c60); c61 = Vector512.FusedMultiplyAdd(av, b1, c61);
            av = Vector512.Create(*(float*)(a6 + l));
            c70 = Vector512.FusedMultiplyAdd(av, b0, c70); c71 = Vector512.FusedMultiplyAdd(av, b1, c71);
            av = Vector512.Create(*(float*)(a6 + 2 * l));
            c80 = Vector512.FusedMultiplyAdd(av, b0, c80); c81 = Vector512.FusedMultiplyAdd(av, b1, c81);
            av = Vector512.Create(*(float*)(a9));
            c90 = Vector512.FusedMultiplyAdd(av, b0, c90); c91 = Vector512.FusedMultiplyAdd(av, b1, c91);
            av = Vector512.Create(*(float*)(a9 + l));
            ca0 = Vector512.FusedMultiplyAdd(av, b0, ca0); ca1 = Vector512.FusedMultiplyAdd(av, b1, ca1);
            av = Vector512.Create(*(float*)(a9 + 2 * l));
            cb0 = Vector512.FusedMultiplyAdd(av, b0, cb0); cb1 = Vector512.FusedMultiplyAdd(av, b1, cb1);
            a0 += sizeof(float); a3 += sizeof(float); a6 += sizeof(float); a9 += sizeof(float);
            b += ldb;
        }

        if (add)
        {
            c00 += Vector512.Load(c); c01 += Vector512.Load(c + 16); c += ldc;
            c10 += Vector512.Load(c); c11 += Vector512.Load(c + 16); c += ldc;
            c20 += Vector512.Load(c); c21 += Vector512.Load(c + 16); c += ldc;
            c30 += Vector512.Load(c); c31 += Vector512.Load(c + 16); c += ldc;
            c40 += Vector512.Load(c); c41 += Vector512.Load(c + 16); c += ldc;
            c50 += Vector512.Load(c); c51 += Vector512.Load(c + 16); c += ldc;
            c60 += Vector512.Load(c); c61 += Vector512.Load(c + 16); c += ldc;
            c70 += Vector512.Load(c); c71 += Vector512.Load(c + 16); c += ldc;
            c80 += Vector512.Load(c); c81 += Vector512.Load(c + 16); c += ldc;
            c90 += Vector512.Load(c); c91 += Vector512.Load(c + 16); c += ldc;
            ca0 += Vector512.Load(c); ca1 += Vector512.Load(c + 16); c += ldc;
            cb0 += Vector512.Load(c); cb1 += Vector512.Load(c + 16);
            c -= 11 * ldc;
        }
        c00.Store(c); c01.Store(c + 16); c += ldc;
        c10.Store(c); c11.Store(c + 16); c += ldc;
        c20.Store(c); c21.Store(c + 16); c += ldc;
        c30.Store(c); c31.Store(c + 16); c += ldc;
        c40.Store(c); c41.Store(c + 16); c += ldc;
        c50.Store(c); c51.Store(c + 16); c += ldc;
        c60.Store(c); c61.Store(c + 16); c += ldc;
        c70.Store(c); c71.Store(c + 16); c += ldc;
        c80.Store(c); c81.Store(c + 16); c += ldc;
        c90.Store(c); c91.Store(c + 16); c += ldc;
        ca0.Store(c); ca1.Store(c + 16); c += ldc;
        cb0.Store(c); cb1.Store(c + 16);
    }
}
