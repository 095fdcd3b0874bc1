using System.Runtime.Intrinsics;
using K = NeuralNet.Kernels.Cpu;

namespace NeuralNet.Tests.Kernels;

/// <summary>The optimized GEMM against the naive reference over shapes that hit every tile, block and tail path.</summary>
[Collection(KernelThreadSettingCollection.Name)]
public class GemmTests
{
    private static readonly int[] Sweep = [1, 7, 31, 33, 65, 127, 129, 255, 257];

    /// <summary>(m, n, k) triples: every sweep size in every position, plus blocking boundaries (MC 192, KC 256, NC 1024).</summary>
    public static IEnumerable<(int M, int N, int K)> Shapes()
    {
        foreach (int s in Sweep)
        {
            yield return (s, 33, 65);
            yield return (7, s, 31);
            yield return (31, 13, s);
            yield return (s, s, 7);
        }
        yield return (257, 257, 257);
        yield return (129, 127, 513);
        yield return (193, 1025, 19);
        yield return (12, 32, 256);
        yield return (24, 64, 1);
        // The unpacked small paths: m ≤ 4 or k ≤ 4 (rows path for B not transposed, dot path for A·Bᵀ).
        yield return (2, 100, 40);
        yield return (3, 37, 50);
        yield return (4, 41, 33);
        yield return (4, 8, 16);
        yield return (65, 129, 3);
        // Tall: three MC blocks of rows, the last one short, split over threads.
        yield return (401, 300, 100);
    }

    public static TheoryData<bool, bool> Transpositions() => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    [Theory]
    [MemberData(nameof(Transpositions))]
    public void Float_MatchesNaive_OverShapeSweep(bool transA, bool transB)
    {
        var rng = new RandomGenerator(17);
        int checkedShapes = 0;
        foreach ((int m, int n, int k) in Shapes())
        {
            bool accumulate = (m + n + k) % 2 == 0;
            var p = Problem<float>.Create(rng, transA, transB, m, n, k, pad: 3);
            float[] c = p.C0.ToArray();
            K.Gemm<float>(transA, transB, m, n, k, p.A, p.Lda, p.B, p.Ldb, c, p.Ldc, accumulate);
            AssertMatchesNaive(c, p, transA, transB, m, n, k, accumulate);
            checkedShapes++;
        }
        checkedShapes.Should().Be(Shapes().Count());
    }

    [Theory]
    [MemberData(nameof(Transpositions))]
    public void Double_MatchesNaive(bool transA, bool transB)
    {
        var rng = new RandomGenerator(5);
        foreach ((int m, int n, int k) in new[] { (1, 1, 1), (7, 33, 31), (33, 7, 65), (65, 31, 7), (31, 129, 33) })
        {
            foreach (bool accumulate in new[] { false, true })
            {
                var p = Problem<double>.Create(rng, transA, transB, m, n, k, pad: 2);
                double[] c = p.C0.ToArray(), reference = p.C0.ToArray();
                K.Gemm<double>(transA, transB, m, n, k, p.A, p.Lda, p.B, p.Ldb, c, p.Ldc, accumulate);
                K.GemmNaive<double>(transA, transB, m, n, k, p.A, p.Lda, p.B, p.Ldb, reference, p.Ldc, accumulate);
                for (int i = 0; i < c.Length; i++)
                    Math.Abs(c[i] - reference[i]).Should().BeLessThanOrEqualTo(1e-12 * (k + Math.Abs(reference[i])),
                        $"m={m} n={n} k={k} accumulate={accumulate} at {i}");
                AssertPaddingUntouched(c, p.C0, m, n, p.Ldc);
            }
        }
    }

    [Fact]
    public void Float_SmallIntegerProblem_IsExact()
    {
        // Integers small enough that every partial sum is exact in float: the fast path must give exactly the naive result.
        const int m = 13, n = 35, k = 300;
        float[] a = new float[m * k], b = new float[n * k];
        for (int i = 0; i < a.Length; i++) a[i] = i % 7 - 3;
        for (int i = 0; i < b.Length; i++) b[i] = i % 5 - 2;
        float[] c = new float[m * n], expected = new float[m * n];
        K.Gemm<float>(false, true, m, n, k, a, k, b, k, c, n, false);
        K.GemmNaive<float>(false, true, m, n, k, a, k, b, k, expected, n, false);
        c.Should().Equal(expected);
        expected.Count(v => v != 0).Should().BeGreaterThan(m * n / 2, "the check must not be trivially all zeros");
    }

    [Fact]
    public void Float_KZero_ClearsOrKeepsC()
    {
        float[] c = [1, 2, 3, 4];
        K.Gemm<float>(false, false, 2, 2, 0, [], 0, [], 2, c, 2, accumulate: true);
        c.Should().Equal(1, 2, 3, 4);
        K.Gemm<float>(false, false, 2, 2, 0, [], 0, [], 2, c, 2, accumulate: false);
        c.Should().Equal(0, 0, 0, 0);
    }

    [Theory]
    [InlineData(256, 64, 784, false, true)]
    [InlineData(64, 120, 400, false, true)]
    [InlineData(37, 100, 300, false, false)]
    [InlineData(25, 33, 520, false, true)]
    public void Float_UnpackedAPanels_GiveTheBitsOfThePackedPath(int m, int n, int k, bool transA, bool transB)
    {
        // With at most GemmUnpackedAMaxColumns columns, full A panels are read in place instead of packed. Each element must
        // still be the same FMA chain: the product with B widened past the limit (packed path) has the same first n columns.
        n.Should().BeLessThanOrEqualTo(K.GemmUnpackedAMaxColumns);
        int wide = K.GemmUnpackedAMaxColumns + 64;
        var rng = new RandomGenerator(123);
        float[] a = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] bWide = Enumerable.Range(0, wide * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int lda = transA ? m : k;
        // B's first n columns (or rows, when transposed) as a matrix of their own.
        float[] bNarrow = new float[n * k];
        for (int p = 0; p < k; p++)
        for (int j = 0; j < n; j++)
        {
            if (transB) bNarrow[j * k + p] = bWide[j * k + p];
            else bNarrow[p * n + j] = bWide[p * wide + j];
        }
        float[] cWide = new float[m * wide], cNarrow = new float[m * n];
        K.Gemm<float>(transA, transB, m, wide, k, a, lda, bWide, transB ? k : wide, cWide, wide, false);
        K.Gemm<float>(transA, transB, m, n, k, a, lda, bNarrow, transB ? k : n, cNarrow, n, false);
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            if (BitConverter.SingleToInt32Bits(cNarrow[i * n + j]) != BitConverter.SingleToInt32Bits(cWide[i * wide + j]))
                Assert.Fail($"m={m} n={n} k={k}: C[{i},{j}] = {cNarrow[i * n + j]:R} unpacked, {cWide[i * wide + j]:R} packed");
    }

    [Theory]
    [InlineData(16, 64, 150, false)]
    [InlineData(7, 33, 31, true)]
    [InlineData(12, 100, 257, false)]
    [InlineData(16, 784, 256, true)]
    [InlineData(5, 31, 40, false)]
    [InlineData(9, 65, 300, true)]
    [InlineData(13, 1000, 17, false)]
    [InlineData(64, 784, 256, true)]
    [InlineData(30, 400, 100, false)]
    [InlineData(33, 129, 65, true)]
    [InlineData(64, 256, 120, false)]
    [InlineData(17, 257, 31, false)]
    public void Float_UnpackedBPanels_GiveTheBitsOfThePackedPath(int m, int n, int k, bool transA)
    {
        // With at most GemmUnpackedBMaxRows rows of C, the full panels of a row-major B are read in place. Each element must
        // still be the same FMA chain: the product with A widened past the limit (packed B) has the same first m rows.
        K.ReadsBInPlace(false, m, k, n).Should().BeTrue();
        int tall = K.GemmUnpackedBMaxRows + 29;
        K.ReadsBInPlace(false, tall, k, n).Should().BeFalse();
        var rng = new RandomGenerator(77);
        float[] aTall = Enumerable.Range(0, tall * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] b = Enumerable.Range(0, k * n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        // A's first m rows (columns, when transposed) as a matrix of their own.
        float[] aShort = new float[m * k];
        for (int i = 0; i < m; i++)
        for (int p = 0; p < k; p++)
        {
            if (transA) aShort[p * m + i] = aTall[p * tall + i];
            else aShort[i * k + p] = aTall[i * k + p];
        }
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                float[] cTall = new float[tall * n], cShort = new float[m * n];
                K.Gemm<float>(transA, false, tall, n, k, aTall, transA ? tall : k, b, n, cTall, n, false);
                K.Gemm<float>(transA, false, m, n, k, aShort, transA ? m : k, b, n, cShort, n, false);
                for (int i = 0; i < m * n; i++)
                    if (BitConverter.SingleToInt32Bits(cShort[i]) != BitConverter.SingleToInt32Bits(cTall[i]))
                        Assert.Fail($"m={m} n={n} k={k} threads={threads}: C[{i / n},{i % n}] = {cShort[i]:R} B in place, {cTall[i]:R} packed");
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    [Theory]
    [InlineData(30, 400, 784)]
    [InlineData(64, 120, 400)]
    [InlineData(5, 200, 300)]
    [InlineData(127, 1000, 64)]
    [InlineData(100, 129, 33)]
    [InlineData(13, 1024, 257)]
    public void Float_TransposedProduct_GivesTheBitsOfTheDirectPath(int m, int n, int k)
    {
        // A·Bᵀ with few rows and accumulate = false is computed as (B·Aᵀ)ᵀ. With accumulate = true on a zero C the direct
        // path runs instead; 0 + x = x exactly, so both must agree bit for bit (random data gives no exact zeros).
        var rng = new RandomGenerator(321);
        float[] a = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] b = Enumerable.Range(0, n * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                float[] transposed = Enumerable.Repeat(float.NaN, m * n).ToArray(), direct = new float[m * n];
                K.Gemm<float>(false, true, m, n, k, a, k, b, k, transposed, n, accumulate: false);
                K.Gemm<float>(false, true, m, n, k, a, k, b, k, direct, n, accumulate: true);
                for (int i = 0; i < m * n; i++)
                    if (BitConverter.SingleToInt32Bits(transposed[i]) != BitConverter.SingleToInt32Bits(direct[i]))
                        Assert.Fail($"m={m} n={n} k={k} threads={threads}: C[{i / n},{i % n}] = {transposed[i]:R} transposed, {direct[i]:R} direct");
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    [Theory]
    [InlineData(257, 257, 257, false, false)]
    [InlineData(256, 64, 784, false, true)]
    [InlineData(256, 784, 64, false, false)]
    [InlineData(64, 784, 256, true, false)]
    [InlineData(30, 400, 784, false, true)]
    [InlineData(400, 784, 30, true, false)]
    [InlineData(131, 1100, 70, true, true)]
    [InlineData(1, 5000, 300, false, false)]
    [InlineData(3, 2000, 200, false, true)]
    [InlineData(700, 900, 2, true, false)]
    [InlineData(40, 30, 2000, false, true)]
    [InlineData(300, 1000, 9, false, false)]
    [InlineData(1000, 1100, 300, false, false)]
    [InlineData(385, 257, 513, true, true)]
    [InlineData(777, 2100, 64, false, true)]
    [InlineData(120, 256, 64, true, false)]
    [InlineData(64, 784, 40, true, false)]
    public void Float_OneTwoAndThreeThreads_AreBitIdentical(int m, int n, int k, bool transA, bool transB)
    {
        var p = Problem<float>.Create(new RandomGenerator(99), transA, transB, m, n, k, pad: 1);
        foreach (bool accumulate in new[] { false, true })
        {
            float[] one = RunWithThreads(p, 1, transA, transB, m, n, k, accumulate);
            RunWithThreads(p, 2, transA, transB, m, n, k, accumulate).Should().Equal(one, $"2 threads vs 1, accumulate={accumulate}");
            RunWithThreads(p, 3, transA, transB, m, n, k, accumulate).Should().Equal(one, $"3 threads vs 1, accumulate={accumulate}");
        }
    }

    /// <summary>Large products that threads share out block by block (GemmBlocksJob), with every transposition.</summary>
    public static TheoryData<int, int, int, bool, bool> BlockScheduledShapes() => new()
    {
        { 1000, 700, 300, false, false },   // 6 row blocks (the last one short) × 2 k blocks
        { 640, 600, 200, false, true },     // 4 row blocks, 1 k block
        { 777, 300, 700, true, false },     // 3 k blocks, k not a multiple of KC
        { 1200, 1100, 64, true, true },     // 2 column blocks (n > NC)
        { 600, 256, 1030, false, false },   // 5 k blocks, the last one 6 deep
    };

    [Theory]
    [MemberData(nameof(BlockScheduledShapes))]
    public void Float_BlockScheduledProducts_MatchNaiveAndAreBitIdenticalForAnyThreadCount(int m, int n, int k, bool transA, bool transB)
    {
        K.PlanGemmFloat(transA, transB, m, n, k, accumulate: true, maxThreads: 2).Blocks.Should().BeTrue("the shape is meant to test the block scheduling");
        K.PlanGemmFloat(transA, transB, m, n, k, accumulate: true, maxThreads: 1).Parts.Should().Be(1);
        var p = Problem<float>.Create(new RandomGenerator(5), transA, transB, m, n, k, pad: 2);
        foreach (bool accumulate in new[] { false, true })
        {
            float[] one = RunWithThreads(p, 1, transA, transB, m, n, k, accumulate);
            RunWithThreads(p, 2, transA, transB, m, n, k, accumulate).Should().Equal(one, $"2 threads vs 1, accumulate={accumulate}");
            RunWithThreads(p, 3, transA, transB, m, n, k, accumulate).Should().Equal(one, $"3 threads vs 1, accumulate={accumulate}");
            // Repeated calls reuse the job and its progress table: the same bits again.
            RunWithThreads(p, 2, transA, transB, m, n, k, accumulate).Should().Equal(one, $"2 threads again, accumulate={accumulate}");
            AssertMatchesNaive(one, p, transA, transB, m, n, k, accumulate);
        }
    }

    /// <summary>C0 (+)= op(A)·op(B) with <paramref name="threads"/> kernel threads, into a copy of C0.</summary>
    private static float[] RunWithThreads(Problem<float> p, int threads, bool transA, bool transB, int m, int n, int k, bool accumulate)
    {
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            NeuralNetSettings.MaxDegreeOfParallelism = threads;
            float[] c = p.C0.ToArray();
            K.Gemm<float>(transA, transB, m, n, k, p.A, p.Lda, p.B, p.Ldb, c, p.Ldc, accumulate);
            return c;
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    /// <summary>
    /// The oracle: the naive kernel in double on the same inputs, with an error bound of k·ε·(Σ|a||b| + |c0|) per element;
    /// and nothing outside the m×n block of C written.
    /// </summary>
    private static void AssertMatchesNaive(float[] c, Problem<float> p, bool transA, bool transB, int m, int n, int k, bool accumulate)
    {
        double[] reference = p.C0.Select(v => (double)v).ToArray();
        double[] a = p.A.Select(v => (double)v).ToArray(), b = p.B.Select(v => (double)v).ToArray();
        K.GemmNaive<double>(transA, transB, m, n, k, a, p.Lda, b, p.Ldb, reference, p.Ldc, accumulate);
        double[] bound = new double[reference.Length];
        K.GemmNaive<double>(transA, transB, m, n, k, a.Select(Math.Abs).ToArray(), p.Lda, b.Select(Math.Abs).ToArray(), p.Ldb,
            bound, p.Ldc, false);
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            int idx = i * p.Ldc + j;
            double tolerance = (k + 2) * 1.2e-7 * (bound[idx] + Math.Abs(p.C0[idx])) + 1e-30;
            if (!(Math.Abs(c[idx] - reference[idx]) <= tolerance))
                Assert.Fail($"m={m} n={n} k={k} transA={transA} transB={transB} accumulate={accumulate}: C[{i},{j}] = {c[idx]}, " +
                    $"expected {reference[idx]} ± {tolerance}");
        }
        AssertPaddingUntouched(c, p.C0, m, n, p.Ldc);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void AfterWarmUp_KernelsAllocateNothing(int threads)
    {
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        NeuralNetSettings.MaxDegreeOfParallelism = threads;
        try
        {
            float[] a = new float[256 * 784], b = new float[64 * 784], c = new float[256 * 784];
            float[] x = new float[6 * 28 * 28], cols = new float[6 * 25 * 24 * 24], pooled = new float[6 * 14 * 14];
            int[] argmax = new int[pooled.Length];
            double[] da = new double[9], db = new double[9], dc = new double[9];
            void Step()
            {
                K.Gemm<float>(false, true, 256, 64, 784, a, 784, b, 784, c, 64, false);     // forward x·Wᵀ
                K.Gemm<float>(false, false, 256, 784, 64, c, 64, b, 784, a, 784, false);    // dx = dy·W
                K.Gemm<float>(true, false, 64, 784, 256, c, 64, a, 784, b, 784, true);      // dW += dyᵀ·x
                K.Gemm<double>(false, false, 3, 3, 3, da, 3, db, 3, dc, 3, false);
                K.Im2Col<float>(cols, x, 6, 28, 28, 5, 5, 1, 0, 24, 24);
                K.Col2Im<float>(x, cols, 6, 28, 28, 5, 5, 1, 0, 24, 24);
                K.MaxPoolForward<float>(pooled, argmax, x, 6, 28, 28, 2, 2, 14, 14);
            }
            // Warm up for a while, not just twice: the JIT's tier-up of the generic kernels (on-stack replacement of their
            // first versions' loops) allocated a few KB on this thread in about 1 of 10 runs after only two calls.
            var warm = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < 3 || warm.ElapsedMilliseconds < 300; i++) Step();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++) Step();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            allocated.Should().Be(0, "the kernels allocate nothing after warm-up");
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    [Fact]
    public void BadArguments_ThrowArgumentException()
    {
        float[] a = new float[6], b = new float[6], c = new float[4];
        FluentActions.Invoking(() => K.Gemm<float>(false, false, 2, 2, 3, a, 2, b, 2, c, 2, false))
            .Should().Throw<ArgumentException>().WithMessage("*A*row stride*3*got 2*");
        FluentActions.Invoking(() => K.Gemm<float>(false, false, 2, 2, 4, a, 4, b, 2, c, 2, false))
            .Should().Throw<ArgumentException>().WithMessage("*A*needs 8 elements, got 6*");
        FluentActions.Invoking(() => K.Gemm<float>(false, true, 2, 2, 3, a, 3, b, 3, c, 1, false))
            .Should().Throw<ArgumentException>().WithMessage("*C*");
        FluentActions.Invoking(() => K.Gemm<float>(false, false, -1, 2, 3, a, 3, b, 2, c, 2, false))
            .Should().Throw<ArgumentException>().WithMessage("*non-negative*");
    }

    [Fact]
    public void VectorPath_FollowsTheEnvironment()
    {
        // CI runs the kernel tests a second time with AVX-512 disabled (.NET 10 reads DOTNET_EnableAVX512=0; the older
        // DOTNET_EnableAVX512F=0 no longer has an effect): this proves that run uses the 256-bit path.
        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX512") == "0")
        {
            Vector512.IsHardwareAccelerated.Should().BeFalse();
            Vector256.IsHardwareAccelerated.Should().BeTrue();
        }
        else if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported && Environment.GetEnvironmentVariable("DOTNET_PreferredVectorBitWidth") is null)
        {
            Vector512.IsHardwareAccelerated.Should().BeTrue();
        }
    }

    private static void AssertPaddingUntouched<T>(T[] c, T[] c0, int m, int n, int ldc) where T : unmanaged
    {
        for (int i = 0; i < c.Length; i++)
        {
            int row = i / ldc, col = i % ldc;
            if (row >= m || col >= n)
                c[i].Should().Be(c0[i], $"C[{i}] lies outside the {m}×{n} block (ldc {ldc}) and must not be written");
        }
    }

    /// <summary>Random operands stored with row strides <c>pad</c> larger than needed.</summary>
    private sealed record Problem<T>(T[] A, int Lda, T[] B, int Ldb, T[] C0, int Ldc) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        public static Problem<T> Create(RandomGenerator rng, bool transA, bool transB, int m, int n, int k, int pad)
        {
            int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
            int lda = aCols + pad, ldb = bCols + pad, ldc = n + pad;
            return new Problem<T>(Random(rng, aRows * lda), lda, Random(rng, bRows * ldb), ldb, Random(rng, m * ldc), ldc);
        }

        private static T[] Random(RandomGenerator rng, int length)
        {
            var data = new T[length];
            for (int i = 0; i < length; i++) data[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
            return data;
        }
    }
}

/// <summary>Tests that change <see cref="NeuralNetSettings.MaxDegreeOfParallelism"/> run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public class KernelThreadSettingCollection
{
    /// <summary>The collection name.</summary>
    public const string Name = "Kernel thread setting";
}
