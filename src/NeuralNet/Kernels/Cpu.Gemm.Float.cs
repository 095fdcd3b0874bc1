using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NeuralNet.Kernels;

/// <summary>A register-blocked GEMM micro-kernel: C[MR×NR] (+)= Apanel[kc×MR]ᵀ · Bpanel[kc×NR] on packed panels.</summary>
internal interface IGemmMicroKernel
{
    /// <summary>Rows of the C tile (values of A broadcast per k step).</summary>
    static abstract int MR { get; }

    /// <summary>Columns of the C tile (floats of B loaded per k step).</summary>
    static abstract int NR { get; }

    /// <summary>
    /// Computes the full tile: a is the packed A panel (kc steps of MR values), b the B panel (kc steps of NR values,
    /// each ldb floats after the previous: NR when packed, B's row stride when read in place), c the top-left of the tile
    /// with row stride ldc. Stores the sum, or adds it to c when <paramref name="add"/>.
    /// </summary>
    static abstract unsafe void Run(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool add);

    /// <summary>
    /// Like <see cref="Run"/> for the first MR/2 rows only (same per-element arithmetic), for short last panels. It must
    /// read and write exactly MR/2 rows of C: the driver calls it directly on C when the panel has MR/2 valid rows.
    /// </summary>
    static abstract unsafe void RunHalf(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool add);

    /// <summary>
    /// Like <see cref="Run"/> with A unpacked: row r of the MR×kc panel starts at a + r·lda and its k steps are contiguous.
    /// Same per-element arithmetic as <see cref="Run"/>.
    /// </summary>
    static abstract unsafe void RunRows(int kc, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool add);
}

internal static partial class Cpu
{
    // Cache blocking (floats). KC·MR·4 B of packed A stays in L1 (12 KiB) while a sweep over the packed B block
    // (KC·NC·4 = 1 MiB) streams from L2, or partly from L3 where L2 is 1 MiB; smaller NC and MC gain nothing there
    // (docs/kernels.md). NC and MC do not change any result bit; KC does (each KC block is summed into C). MC bounds the
    // A block so the buffers stay small.
    internal const int GemmKC = 256;
    internal const int GemmMC = 192;
    internal const int GemmNC = 1024;

    // With at most this many columns of C, a row-major A is not packed (see GemmFloatBlocked).
    internal const int GemmUnpackedAMaxColumns = 128;

    // With at most this many rows of C, and a B of at most GemmUnpackedBMaxFloats (k·ldb), the full panels of a row-major
    // B are read in place instead of packed (see ReadsBInPlace).
    internal const int GemmUnpackedBMaxRows = 64;
    internal const long GemmUnpackedBMaxFloats = 1L << 18;

    // How far ahead (bytes) the micro-kernels' RunRows, which read A in place from up to twelve rows, prefetch each row,
    // once per 16 k steps: the deep MLP's first forward streams its 1.25 MB weight matrix this way, faster than the
    // hardware prefetcher follows when it comes from L3. Eight cache lines (128 k steps) ahead hide that latency;
    // much further ahead, lines are evicted again before they are used.
    // Prefetching never changes a result.
    internal const int GemmRowsPrefetchBytes = 512;

    // Below this many multiply-adds a second thread costs more (wake-up, duplicate packing) than it saves.
    internal const long GemmParallelThreshold = 1L << 19;

    // See the thread split in GemmFloat.
    internal const int GemmRowSplitMaxK = 64;

    // From this many multiply-adds (512·512·256) threads share a product out block by block (GemmBlocksJob).
    internal const long GemmBlockSchedulingMinWork = 1L << 26;

    // With at most this many rows of C (batch 1 to 4) packing costs more than it saves: op(A)·B runs on the row path
    // (Cpu.Gemm.Rows.cs) and A·Bᵀ on dot products (Cpu.Gemm.DotNT.cs). From m = 16 up a packed panel is reused
    // often enough to pay for its packing on the network shapes; at a single row it never is.
    internal const int GemmSmallRows = 4;

    // op(A)·B with k this small (the conv forward W·cols with C·KH·KW = 9 or 16, a dW with batch ≤ 16) is dominated by
    // writing C: the row path writes each C vector once and skips packing. From k ≈ 30 the packed path's register
    // tile wins again.
    internal const int GemmRowsMaxK = 16;

    // A·Bᵀ with at most one micro-tile of columns and a long k (the conv weight gradient dY·colsᵀ: n = C·KH·KW = 9 or 25,
    // k = OH·OW ≥ 576) wastes most of a padded tile on the packed path; dot products over k use every lane there. With a
    // short k (a classifier layer's forward, 256×10×64, 30×10×25, 1000×10×100) each dot product is a few FMAs and a lane
    // sum, so the packed path with A read in place stays faster.
    internal const int GemmDotNTMaxColumns = 32;
    internal const int GemmDotNTMinK = 256;

    /// <summary>Which algorithm computes a GEMM; chosen from the shape alone so thread count never changes results.</summary>
    internal enum GemmPath { Packed, Rows, DotNT }

    [ThreadStatic] private static float[]? t_gemmPackA;
    [ThreadStatic] private static float[]? t_gemmPackB;
    [ThreadStatic] private static GemmFloatJob? t_gemmJob;
    [ThreadStatic] private static GemmBlocksJob? t_gemmBlocksJob;
    [ThreadStatic] private static float[]? t_gemmTransposed;

    /// <summary>Single-precision GEMM: validated spans in, blocked SIMD kernels out, split over threads by output block.</summary>
    private static unsafe void GemmFloat(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate)
    {
        if (m == 0 || n == 0) return;
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            if (k == 0)
            {
                if (!accumulate)
                    for (int i = 0; i < m; i++) new Span<float>(pc + (nint)i * ldc, n).Clear();
                return;
            }

            GemmPlan plan = PlanGemmFloat(transA, transB, m, n, k, accumulate, NeuralNetSettings.MaxDegreeOfParallelism);
            GemmPath path = plan.Path;
            if (plan.Parts <= 1)
            {
                GemmFloatRange(path, transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate);
                return;
            }

            if (plan.Blocks)
            {
                GemmBlocksJob blocks = t_gemmBlocksJob ??= new GemmBlocksJob();
                blocks.Set(transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate);
                try
                {
                    KernelThreads.Run(blocks, plan.Parts);
                }
                finally
                {
                    blocks.Clear();
                }
                return;
            }

            GemmFloatJob job = t_gemmJob ??= new GemmFloatJob();
            job.Set(path, transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate, plan.SplitRows, plan.Chunk);
            try
            {
                KernelThreads.Run(job, plan.Parts);
            }
            finally
            {
                job.Clear();
            }
        }
    }

    /// <summary>How a single-precision GEMM runs: its path, and how it is shared among threads.</summary>
    /// <param name="Path">The algorithm; it depends on the shape only, never on the thread count, so results stay bit-identical.</param>
    /// <param name="SplitRows">Whether threads take rows of C (true) or columns.</param>
    /// <param name="Parts">How many parallel parts (1: the calling thread alone).</param>
    /// <param name="Chunk">The rows (or columns) of each fixed part; the last one may be shorter.</param>
    /// <param name="Blocks">
    /// Whether the parts instead claim blocks of the loop nest dynamically (<see cref="GemmBlocksJob"/>; Chunk unused).
    /// </param>
    internal readonly record struct GemmPlan(GemmPath Path, bool SplitRows, int Parts, int Chunk, bool Blocks);

    /// <summary>Chooses the path and the thread split of C (m×n) = op(A)·op(B) for at most <paramref name="maxThreads"/> threads.</summary>
    internal static GemmPlan PlanGemmFloat(bool transA, bool transB, int m, int n, int k, bool accumulate, int maxThreads)
    {
        GemmPath path = !transB && (m <= GemmSmallRows || k <= GemmRowsMaxK) ? GemmPath.Rows
            : !transA && transB && (m <= GemmSmallRows || (n <= GemmDotNTMaxColumns && k >= GemmDotNTMinK)) && k >= 16 ? GemmPath.DotNT
            : GemmPath.Packed;
        // Threads split C by rows when it is at least as tall as wide, and by columns otherwise, except for a weight
        // gradient dYᵀ·X of a small batch (A transposed, k ≤ 64): there writing C dominates, and a thread that owns
        // whole rows of C writes them in long contiguous runs.
        bool splitRows = m >= n || (path == GemmPath.Packed && transA && k <= GemmRowSplitMaxK && m >= 2 * GemmMR);
        int unit = path != GemmPath.Packed ? (splitRows ? 1 : 16) : splitRows ? GemmMR : GemmNR;
        int dim = splitRows ? m : n;
        int parts = 1;
        if ((long)m * n * k >= GemmParallelThreshold)
            parts = Math.Min(maxThreads, (dim + unit - 1) / unit);
        // Large products are shared out block by block: from 512·512·256 multiply-adds, with at least two MC blocks of
        // rows per thread.
        bool blocks = parts > 1 && path == GemmPath.Packed && splitRows && (long)m * n * k >= GemmBlockSchedulingMinWork
            && (m + GemmMC - 1) / GemmMC >= 2 * parts && !UseTransposedProduct(transA, transB, m, n, accumulate);
        int chunk = ((dim + parts - 1) / parts + unit - 1) / unit * unit;
        if (!blocks) parts = (dim + chunk - 1) / chunk;
        return new GemmPlan(path, splitRows, parts, chunk, blocks);
    }

    private static int GemmMR => Vector512.IsHardwareAccelerated ? GemmFloat512.MR : GemmFloat256.MR;
    private static int GemmNR => Vector512.IsHardwareAccelerated ? GemmFloat512.NR : GemmFloat256.NR;

    /// <summary>One thread's share: a block of C rows or columns, computed with the widest available micro-kernel.</summary>
    private sealed unsafe class GemmFloatJob : ParallelJob
    {
        private GemmPath _path;
        private bool _transA, _transB, _accumulate, _splitRows;
        private int _m, _n, _k, _chunk;
        private float* _a, _b, _c;
        private nint _lda, _ldb, _ldc;

        public void Set(GemmPath path, bool transA, bool transB, int m, int n, int k, float* a, nint lda, float* b, nint ldb,
            float* c, nint ldc, bool accumulate, bool splitRows, int chunk)
        {
            _path = path;
            (_transA, _transB, _m, _n, _k, _lda, _ldb, _ldc, _accumulate, _splitRows, _chunk) =
                (transA, transB, m, n, k, lda, ldb, ldc, accumulate, splitRows, chunk);
            _a = a;
            _b = b;
            _c = c;
        }

        public void Clear()
        {
            _a = null;
            _b = null;
            _c = null;
        }

        public override void Execute(int part, int parts)
        {
            int start = part * _chunk;
            if (_splitRows)
            {
                int rows = Math.Min(_chunk, _m - start);
                if (rows <= 0) return;
                float* a = _transA ? _a + start : _a + start * _lda;
                GemmFloatRange(_path, _transA, _transB, rows, _n, _k, a, _lda, _b, _ldb, _c + start * _ldc, _ldc, _accumulate);
            }
            else
            {
                int cols = Math.Min(_chunk, _n - start);
                if (cols <= 0) return;
                float* b = _transB ? _b + start * _ldb : _b + start;
                GemmFloatRange(_path, _transA, _transB, _m, cols, _k, _a, _lda, b, _ldb, _c + start, _ldc, _accumulate);
            }
        }
    }

    /// <summary>
    /// A large product shared out in blocks: one block is C[ic..ic+MC, jc..jc+NC] (+)= op(A)[ic.., pc..pc+KC]·B[pc.., jc..],
    /// exactly the step of the single-threaded loop nest. Threads claim blocks in loop order (column block, then k block,
    /// then row block) from one counter, pack the B block themselves when they reach a new one, and take a block of rows
    /// at k block p only once block p − 1 of the same rows is done. So each element of C is the same FMA chain, added in
    /// the same order as on one thread, whichever thread computes which block, and a thread that the machine slows down
    /// simply claims fewer blocks instead of holding the other one back (a fixed half per thread waits for the slower).
    /// </summary>
    private sealed unsafe class GemmBlocksJob : ParallelJob
    {
        private bool _transA, _transB, _accumulate;
        private int _m, _n, _k, _rowBlocks, _kBlocks, _blocks;
        private float* _a, _b, _c;
        private nint _lda, _ldb, _ldc;
        // Per (column block, row block): how many k blocks are done. Grown, never shrunk, so a warm call allocates nothing.
        private int[] _progress = [];
        private PaddedCounter _next;

        public void Set(bool transA, bool transB, int m, int n, int k, float* a, nint lda, float* b, nint ldb,
            float* c, nint ldc, bool accumulate)
        {
            (_transA, _transB, _m, _n, _k, _lda, _ldb, _ldc, _accumulate) = (transA, transB, m, n, k, lda, ldb, ldc, accumulate);
            _a = a;
            _b = b;
            _c = c;
            _rowBlocks = (m + GemmMC - 1) / GemmMC;
            _kBlocks = (k + GemmKC - 1) / GemmKC;
            int columnBlocks = (n + GemmNC - 1) / GemmNC;
            _blocks = columnBlocks * _kBlocks * _rowBlocks;
            int cells = columnBlocks * _rowBlocks;
            if (_progress.Length < cells) _progress = new int[cells];
            Array.Clear(_progress, 0, cells);
            _next.Value = 0;
        }

        public void Clear()
        {
            _a = null;
            _b = null;
            _c = null;
        }

        public override void Execute(int part, int parts)
        {
            if (Vector512.IsHardwareAccelerated)
                Run<GemmFloat512>();
            else
                Run<GemmFloat256>();
        }

        [SkipLocalsInit]
        private void Run<TKernel>() where TKernel : struct, IGemmMicroKernel
        {
            float* packA = GetPackBuffer(ref t_gemmPackA, GemmMC * GemmKC);
            float* packB = GetPackBuffer(ref t_gemmPackB, GemmKC * GemmNC);
            float* tile = stackalloc float[12 * 32 + 16];
            tile = (float*)(((nint)tile + 63) & ~(nint)63);
            bool packAPanels = _transA || _n > GemmUnpackedAMaxColumns;
            int packed = -1;   // the (column block, k block) whose B block this thread holds packed
            while (true)
            {
                int block = Interlocked.Increment(ref _next.Value) - 1;
                if (block >= _blocks) return;
                int rowBlock = block % _rowBlocks;
                int step = block / _rowBlocks;
                int kBlock = step % _kBlocks;
                int columnBlock = step / _kBlocks;
                int jc = columnBlock * GemmNC, nc = Math.Min(GemmNC, _n - jc);
                int pc = kBlock * GemmKC, kc = Math.Min(GemmKC, _k - pc);
                int ic = rowBlock * GemmMC;
                if (step != packed)
                {
                    PackB(_transB, _b, _ldb, pc, jc, kc, nc, packB, TKernel.NR);
                    packed = step;
                }

                // Blocks are claimed in order, so the previous k block of these rows is done or being computed now.
                ref int done = ref _progress[columnBlock * _rowBlocks + rowBlock];
                if (Volatile.Read(ref done) != kBlock)
                {
                    var spin = new SpinWait();
                    while (Volatile.Read(ref done) != kBlock) spin.SpinOnce(sleep1Threshold: -1);
                }
                GemmFloatBlock<TKernel>(_transA, _a, _lda, _c, _ldc, ic, Math.Min(GemmMC, _m - ic), jc, nc, pc, kc,
                    _accumulate || pc > 0, packAPanels, false, packA, packB, null, 0, tile);
                Volatile.Write(ref done, kBlock + 1);
            }
        }
    }

    /// <summary>An int alone on its cache line, for a counter that threads update while others read nearby fields.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 128)]
    private struct PaddedCounter
    {
        [System.Runtime.InteropServices.FieldOffset(64)]
        public int Value;
    }

    private static unsafe void GemmFloatRange(GemmPath path, bool transA, bool transB, int m, int n, int k,
        float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        if (path == GemmPath.Rows)
            GemmFloatRows(transA, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        else if (path == GemmPath.DotNT)
            GemmFloatDotNT(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        else if (UseTransposedProduct(transA, transB, m, n, accumulate))
            GemmFloatTransposed(m, n, k, a, lda, b, ldb, c, ldc);
        else if (Vector512.IsHardwareAccelerated)
            GemmFloatBlocked<GemmFloat512>(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        else
            GemmFloatBlocked<GemmFloat256>(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    }

    /// <summary>
    /// Whether C = A·Bᵀ is computed as Cᵀ = B·Aᵀ: for a few rows of C (a small batch through a layer, X·Wᵀ) and more
    /// columns than rows. Then the large operand B (the weights) is read in place instead of being packed (transposed)
    /// for a product that uses each packed panel only m/MR times, and only the small A is packed. Only when m nearly fills
    /// whole micro-tiles of columns (at most 1/8 padding: m = 30, 64, 120 yes; 12, 25, 100 no): with more padding the
    /// wasted lanes cost more than the packing saved.
    /// </summary>
    private static bool UseTransposedProduct(bool transA, bool transB, int m, int n, bool accumulate) =>
        !transA && transB && !accumulate && m <= GemmUnpackedAMaxColumns && n > m
        && GemmTransposedStride(m) - m <= GemmTransposedStride(m) / 8
        && (long)n * GemmTransposedStride(m) <= GemmTransposedLength;

    /// <summary>The row stride of the transposed product's buffer: m rounded up to whole micro-tiles of columns.</summary>
    private static int GemmTransposedStride(int m) => (m + GemmNR - 1) / GemmNR * GemmNR;

    /// <summary>
    /// C (m×n) = A·Bᵀ via T (n×m) = B·Aᵀ in a per-thread buffer, then C = Tᵀ. Each element is the same FMA chain over k as
    /// on the direct path (the products a·b and b·a are the same float), so the results are bit-identical to it; only
    /// <c>accumulate = false</c> comes here, so no addition is reassociated either.
    /// </summary>
    private static unsafe void GemmFloatTransposed(int m, int n, int k, float* a, nint lda, float* b, nint ldb, float* c, nint ldc)
    {
        int ldt = GemmTransposedStride(m);
        float* t = GetPackBuffer(ref t_gemmTransposed, GemmTransposedLength);
        // T's rows are padded to whole tiles, so tiles with fewer than NR valid columns are stored straight into it.
        if (Vector512.IsHardwareAccelerated)
            GemmFloatBlocked<GemmFloat512>(false, true, n, m, k, b, ldb, a, lda, t, ldt, false, paddedColumns: true);
        else
            GemmFloatBlocked<GemmFloat256>(false, true, n, m, k, b, ldb, a, lda, t, ldt, false, paddedColumns: true);
        PackTransposed(t, ldt, n, m, c, ldc); // C[i, j] = T[j, i]
    }

    /// <summary>
    /// Whether the blocked loop nest reads the full column panels of a row-major B in place (each k step's NR floats in
    /// their row of B, stride ldb) instead of packing them: when C has at most <see cref="GemmUnpackedBMaxRows"/> rows, each
    /// panel serves only a few A panels and packing it costs more than it saves (the small-batch products of the
    /// networks: the MLP's weight gradient 64×784×256, LeNet-5's 64×256×120); from about 96 rows the packed panel is
    /// reused enough to pay for itself. Only while B is small enough (k·ldb ≤ <see cref="GemmUnpackedBMaxFloats"/>) to
    /// stay in cache: a larger B read with stride ldb misses. The micro-kernel does the same FMAs in the same order, so
    /// the results are the bits of the packed path.
    /// </summary>
    internal static bool ReadsBInPlace(bool transB, int m, int k, nint ldb) =>
        !transB && m <= GemmUnpackedBMaxRows && k * (long)ldb <= GemmUnpackedBMaxFloats;

    /// <summary>
    /// Allocates this thread's pinned packing buffers (about 1.7 MB) if it has none yet. Kernel workers call it before their
    /// first job and callers of <see cref="KernelThreads.Run"/> before dispatching, so no thread allocates them in the middle
    /// of training, whichever parallel parts it happens to claim during warm-up.
    /// </summary>
    internal static void EnsurePackBuffers()
    {
        if (t_gemmPackA is null || t_gemmPackA.Length < GemmPackALength)
            t_gemmPackA = GC.AllocateUninitializedArray<float>(GemmPackALength, pinned: true);
        if (t_gemmPackB is null || t_gemmPackB.Length < GemmPackBLength)
            t_gemmPackB = GC.AllocateUninitializedArray<float>(GemmPackBLength, pinned: true);
        if (t_gemmTransposed is null || t_gemmTransposed.Length < GemmTransposedLength + 16)
            t_gemmTransposed = GC.AllocateUninitializedArray<float>(GemmTransposedLength + 16, pinned: true);
    }

    // The packing buffers: one MC×KC block of A and one KC×NC block of B, plus 16 floats for the 64-byte alignment.
    private const int GemmPackALength = GemmMC * GemmKC + 16;
    private const int GemmPackBLength = GemmKC * GemmNC + 16;

    // The transposed product's buffer (GemmFloatTransposed): up to 128 padded columns × 1024 rows, 512 KiB.
    private const int GemmTransposedLength = 128 * GemmNC;

    /// <summary>Returns a 64-byte aligned pointer into a pinned per-thread buffer of at least <paramref name="length"/> floats.</summary>
    private static unsafe float* GetPackBuffer(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length + 16)
            buffer = GC.AllocateUninitializedArray<float>(length + 16, pinned: true);
        float* p = (float*)Unsafe.AsPointer(ref buffer[0]);
        return (float*)(((nint)p + 63) & ~(nint)63);
    }

    /// <summary>
    /// The blocked loop nest (Goto/BLIS order, with the roles of A and B swapped for row-major C): for each NC block of
    /// columns and KC block of k, pack B once; for each MC block of rows pack A; then run the micro-kernel over every
    /// MR×NR tile. Edge tiles run the same kernel on zero-padded panels into a scratch tile, so each element of C is the
    /// same FMA chain whether or not it sits on an edge, which keeps results independent of the thread partition.
    /// With <paramref name="bPacked"/>, <paramref name="b"/> already holds the one packed block (k ≤ KC, n ≤ NC; see
    /// <see cref="Im2ColPacked"/>) and is used as it is.
    /// </summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GemmFloatBlocked<TKernel>(bool transA, bool transB, int m, int n, int k,
        float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate, bool paddedColumns = false,
        bool bPacked = false)
        where TKernel : struct, IGemmMicroKernel
    {
        Debug.Assert(!bPacked || (k <= GemmKC && n <= GemmNC), "a packed B is one KC × NC block");
        int nr = TKernel.NR;
        float* packA = GetPackBuffer(ref t_gemmPackA, GemmMC * GemmKC);
        // Packing A pays off through reuse across column tiles; with at most GemmUnpackedAMaxColumns columns (the forward
        // X·Wᵀ of a layer with few outputs) each A panel serves a handful of tiles and packing it cost as much as the tiles.
        bool packAPanels = transA || n > GemmUnpackedAMaxColumns;
        float* packB = bPacked ? b : GetPackBuffer(ref t_gemmPackB, GemmKC * GemmNC);
        bool bInPlace = !bPacked && ReadsBInPlace(transB, m, k, ldb);
        float* tile = stackalloc float[12 * 32 + 16];
        tile = (float*)(((nint)tile + 63) & ~(nint)63);

        for (int jc = 0; jc < n; jc += GemmNC)
        {
            int nc = Math.Min(GemmNC, n - jc);
            for (int pc = 0; pc < k; pc += GemmKC)
            {
                int kc = Math.Min(GemmKC, k - pc);
                bool add = accumulate || pc > 0;
                float* bRows = null;
                if (bInPlace)
                {
                    bRows = b + (nint)pc * ldb + jc;
                    int full = nc / nr * nr;
                    if (full < nc) PackB(transB, b, ldb, pc, jc + full, kc, nc - full, packB + (nint)full * kc, nr);
                }
                else if (!bPacked)
                {
                    PackB(transB, b, ldb, pc, jc, kc, nc, packB, nr);
                }
                for (int ic = 0; ic < m; ic += GemmMC)
                    GemmFloatBlock<TKernel>(transA, a, lda, c, ldc, ic, Math.Min(GemmMC, m - ic), jc, nc, pc, kc, add,
                        packAPanels, paddedColumns, packA, packB, bRows, ldb, tile);
            }
        }
    }

    /// <summary>
    /// One block of the loop nest: C[ic..ic+mc, jc..jc+nc] (+)= op(A)[ic..ic+mc, pc..pc+kc] · (the B block, packed or
    /// read in place from <paramref name="bRows"/> with row stride <paramref name="ldb"/>), the
    /// A block packed (or read in place) here, every MR×NR tile through the micro-kernel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GemmFloatBlock<TKernel>(bool transA, float* a, nint lda, float* c, nint ldc,
        int ic, int mc, int jc, int nc, int pc, int kc, bool add, bool packAPanels, bool paddedColumns,
        float* packA, float* packB, float* bRows, nint ldb, float* tile)
        where TKernel : struct, IGemmMicroKernel
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        // With B read in place (bRows: this block's first k step and column), its full column panels are read from B
        // and only a short last one comes from packB.
        int packedBFrom = bRows == null ? 0 : nc / nr * nr;
        // Full panels of a row-major A are read in place when they serve only a few column tiles; only a short
        // last panel is packed (zero-padded) then.
        int packedFrom = packAPanels ? 0 : mc / mr * mr;
        if (packedFrom < mc)
            PackA(transA, a, lda, ic + packedFrom, pc, mc - packedFrom, kc, packA + (nint)packedFrom * kc, mr);
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* ap = packA + (nint)ir * kc;
            float* aRows = a + (nint)(ic + ir) * lda + pc;
            float* cRow = c + (ic + ir) * ldc + jc;
            for (int jr = 0; jr < nc; jr += nr)
            {
                // C with rows padded to whole tiles (the transposed product's buffer) takes every tile in place.
                int cols = paddedColumns ? nr : Math.Min(nr, nc - jr);
                // Each k step of a B panel: NR floats, packed (stride NR) or in its row of B (stride ldb).
                bool bRow = jr < packedBFrom;
                float* bp = bRow ? bRows + jr : packB + (nint)jr * kc;
                nint bs = bRow ? ldb : nr;
                if (ir < packedFrom)
                {
                    if (cols == nr)
                    {
                        TKernel.RunRows(kc, aRows, lda, bp, bs, cRow + jr, ldc, add);
                    }
                    else
                    {
                        TKernel.RunRows(kc, aRows, lda, bp, bs, tile, nr, false);
                        StoreTile(tile, nr, cRow + jr, ldc, rows, cols, add);
                    }
                }
                else if (rows == mr && cols == nr)
                {
                    TKernel.Run(kc, ap, bp, bs, cRow + jr, ldc, add);
                }
                else if (rows * 2 == mr && cols == nr)
                {
                    TKernel.RunHalf(kc, ap, bp, bs, cRow + jr, ldc, add);
                }
                else if (rows * 2 <= mr)
                {
                    TKernel.RunHalf(kc, ap, bp, bs, tile, nr, false);
                    StoreTile(tile, nr, cRow + jr, ldc, rows, cols, add);
                }
                else
                {
                    TKernel.Run(kc, ap, bp, bs, tile, nr, false);
                    StoreTile(tile, nr, cRow + jr, ldc, rows, cols, add);
                }
            }
        }
    }

    private static unsafe void StoreTile(float* tile, int nr, float* c, nint ldc, int rows, int cols, bool add)
    {
        for (int r = 0; r < rows; r++)
        {
            float* src = tile + r * nr;
            float* dst = c + r * ldc;
            if (add)
                for (int j = 0; j < cols; j++) dst[j] += src[j];
            else
                for (int j = 0; j < cols; j++) dst[j] = src[j];
        }
    }

    /// <summary>
    /// Packs op(A)[i0..i0+mc, p0..p0+kc] into panels of <paramref name="mr"/> rows: panel q holds, for each k step,
    /// the mr values op(A)[i0+q·mr+r, p] (r = 0..mr−1), zero past the last row. Handles the transpose while copying.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackA(bool transA, float* a, nint lda, int i0, int p0, int mc, int kc, float* dst, int mr)
    {
        for (int q = 0; q < mc; q += mr)
        {
            int rows = Math.Min(mr, mc - q);
            float* panel = dst + (nint)q * kc;
            if (transA)
            {
                // A stored k×m: the mr values of one k step are contiguous.
                float* src = a + (nint)p0 * lda + i0 + q;
                for (int p = 0; p < kc; p++, src += lda, panel += mr)
                {
                    int r = 0;
                    for (; r <= rows - 4; r += 4) Vector128.Store(Vector128.Load(src + r), panel + r);
                    for (; r < rows; r++) panel[r] = src[r];
                    for (; r < mr; r++) panel[r] = 0f;
                }
            }
            else
            {
                // A stored m×k: transpose 4×4 blocks on the way.
                PackTransposed(a + (nint)(i0 + q) * lda + p0, lda, rows, kc, panel, mr);
                for (int r = rows; r < mr; r++)
                {
                    float* d = panel + r;
                    for (int p = 0; p < kc; p++) d[(nint)p * mr] = 0f;
                }
            }
        }
    }

    /// <summary>
    /// Packs op(B)[p0..p0+kc, j0..j0+nc] into panels of <paramref name="nr"/> columns: panel q holds, for each k step,
    /// the nr values op(B)[p, j0+q·nr+j], zero past the last column. Handles the transpose while copying.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackB(bool transB, float* b, nint ldb, int p0, int j0, int kc, int nc, float* dst, int nr)
    {
        if (!transB)
        {
            // Row by row over the source: one sequential stream (the hardware prefetcher follows it), scattered into the
            // panels, which sit in L2. Going panel by panel instead reads nr floats from each of kc rows ldb apart, a
            // strided pattern the prefetcher does not follow; that made packing B cost as much as packing A with
            // transposes (6–7 % of a 512² GEMM each, perf).
            int full = nc / nr * nr;
            float* src = b + (nint)p0 * ldb + j0;
            nint panelStride = (nint)nr * kc;
            for (int p = 0; p < kc; p++, src += ldb)
            {
                float* d = dst + (nint)p * nr;
                for (int q = 0; q < full; q += nr, d += panelStride)
                    for (int j = 0; j < nr; j += Vector256<float>.Count)
                        Vector256.Store(Vector256.Load(src + q + j), d + j);
            }
            if (full < nc)
            {
                int cols = nc - full;
                float* panel = dst + (nint)full * kc;
                src = b + (nint)p0 * ldb + j0 + full;
                for (int p = 0; p < kc; p++, src += ldb, panel += nr)
                {
                    int j = 0;
                    for (; j < cols; j++) panel[j] = src[j];
                    for (; j < nr; j++) panel[j] = 0f;
                }
            }
            return;
        }

        for (int q = 0; q < nc; q += nr)
        {
            int cols = Math.Min(nr, nc - q);
            float* panel = dst + (nint)q * kc;
            // B stored n×k: transpose 4×4 blocks on the way.
            PackTransposed(b + (nint)(j0 + q) * ldb + p0, ldb, cols, kc, panel, nr);
            for (int j = cols; j < nr; j++)
            {
                float* d = panel + j;
                for (int p = 0; p < kc; p++) d[(nint)p * nr] = 0f;
            }
        }
    }

    /// <summary>dst[p·ds + r] = src[r·ld + p] for r &lt; rows, p &lt; kc: 4×4 register transposes, scalar edges.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackTransposed(float* src, nint ld, int rows, int kc, float* dst, nint ds)
    {
        int r = 0;
        if (Sse.IsSupported)
        {
            for (; r <= rows - 4; r += 4)
            {
                float* s0 = src + r * ld, s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld;
                float* d = dst + r;
                int p = 0;
                for (; p <= kc - 4; p += 4, d += 4 * ds)
                {
                    Vector128<float> x0 = Sse.LoadVector128(s0 + p), x1 = Sse.LoadVector128(s1 + p);
                    Vector128<float> x2 = Sse.LoadVector128(s2 + p), x3 = Sse.LoadVector128(s3 + p);
                    Vector128<float> t0 = Sse.UnpackLow(x0, x1), t1 = Sse.UnpackLow(x2, x3);
                    Vector128<float> t2 = Sse.UnpackHigh(x0, x1), t3 = Sse.UnpackHigh(x2, x3);
                    Sse.Store(d, Sse.MoveLowToHigh(t0, t1));
                    Sse.Store(d + ds, Sse.MoveHighToLow(t1, t0));
                    Sse.Store(d + 2 * ds, Sse.MoveLowToHigh(t2, t3));
                    Sse.Store(d + 3 * ds, Sse.MoveHighToLow(t3, t2));
                }
                for (; p < kc; p++, d += ds)
                {
                    d[0] = s0[p];
                    d[1] = s1[p];
                    d[2] = s2[p];
                    d[3] = s3[p];
                }
            }
        }
        for (; r < rows; r++)
        {
            float* s0 = src + r * ld;
            float* d = dst + r;
            for (int p = 0; p < kc; p++) d[(nint)p * ds] = s0[p];
        }
    }
}
