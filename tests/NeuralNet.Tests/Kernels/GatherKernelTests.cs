using K = NeuralNet.Kernels.Cpu;

namespace NeuralNet.Tests.Kernels;

/// <summary>
/// The batch gather (<see cref="K.GatherRows{T}"/>) against the naive reference on many shapes, below and above the parallel
/// threshold, for 1, 2 and 3 kernel threads: the same bits every time.
/// </summary>
[Collection(KernelThreadSettingCollection.Name)]
public class GatherKernelTests
{
    // source rows, row length, gathered rows: single elements, odd lengths, MNIST rows (784) in batches of 1, 30, 64, 256
    // and 257, rows of several KB, and gathers just below and at the parallel threshold (64 KB).
    public static TheoryData<int, int, int> Shapes() => new()
    {
        { 1, 1, 1 }, { 5, 1, 9 }, { 17, 3, 16 }, { 100, 7, 33 }, { 1000, 784, 1 }, { 1000, 784, 30 }, { 1000, 784, 64 },
        { 2000, 784, 256 }, { 2000, 784, 257 }, { 64, 4099, 13 }, { 300, 16383, 2 }, { 300, 4, K.GatherParallelMinBytes / 16 },
        { 300, 4, K.GatherParallelMinBytes / 16 - 1 }, { 500, 1024, 3 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Float_MatchesNaive_BitForBit_AtAnyThreadCount(int sourceRows, int rowLength, int count)
    {
        var rng = new RandomGenerator((ulong)(sourceRows * 31 + rowLength * 7 + count));
        var source = new float[sourceRows * rowLength];
        for (int i = 0; i < source.Length; i++) source[i] = (float)(rng.NextDouble() * 2 - 1);
        // NaN payloads and infinities travel unchanged: the gather copies bits, it does not compute.
        source[0] = float.NaN;
        source[^1] = float.NegativeInfinity;
        source[source.Length / 2] = BitConverter.Int32BitsToSingle(0x7FC0_1234);
        var rows = new int[count];
        for (int i = 0; i < count; i++) rows[i] = rng.NextInt(sourceRows);
        rows[0] = sourceRows - 1;   // the last row, so an off-by-one read past the end would fail
        if (count > 2) rows[2] = rows[1];   // a repeated index
        var expected = new float[count * rowLength];
        K.GatherRowsNaive<float>(expected, source, rowLength, rows);
        ForThreads(threads =>
        {
            // One element more than needed, which must stay untouched.
            var destination = new float[count * rowLength + 1];
            destination[^1] = 42f;
            K.GatherRows<float>(destination, source, rowLength, rows);
            for (int i = 0; i < expected.Length; i++)
                if (BitConverter.SingleToInt32Bits(destination[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                    Assert.Fail($"{threads} threads: element {i} (row {i / rowLength}, column {i % rowLength}) is {destination[i]}, expected {expected[i]}.");
            destination[^1].Should().Be(42f);
        });
    }

    [Theory]
    [InlineData(40, 784, 30)]
    [InlineData(900, 50, 700)]
    public void Double_MatchesNaive_AtAnyThreadCount(int sourceRows, int rowLength, int count)
    {
        var rng = new RandomGenerator(5);
        var source = new double[sourceRows * rowLength];
        for (int i = 0; i < source.Length; i++) source[i] = rng.NextDouble();
        var rows = new int[count];
        for (int i = 0; i < count; i++) rows[i] = rng.NextInt(sourceRows);
        var expected = new double[count * rowLength];
        K.GatherRowsNaive<double>(expected, source, rowLength, rows);
        ForThreads(threads =>
        {
            var destination = new double[count * rowLength];
            K.GatherRows<double>(destination, source, rowLength, rows);
            destination.Should().Equal(expected, $"{threads} threads");
        });
    }

    [Fact]
    public void EmptyIndexList_WritesNothing()
    {
        var destination = new float[] { 7f };
        K.GatherRows<float>(destination, new float[] { 1f, 2f }, 2, ReadOnlySpan<int>.Empty);
        destination[0].Should().Be(7f);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(10)]
    public void IndexOutsideTheSource_Throws_NamingIt(int bad)
    {
        var source = new float[10 * 3];
        var destination = new float[4 * 3];
        var act = () => K.GatherRows<float>(destination, source, 3, new[] { 0, 9, bad, 1 });
        act.Should().Throw<ArgumentException>().WithMessage($"*row index {bad} at position 2 is outside the source's 10 rows*");
    }

    [Fact]
    public void ShortDestination_Throws_NamingTheSizes()
    {
        var act = () => K.GatherRows<float>(new float[5], new float[30], 3, new[] { 0, 1 });
        act.Should().Throw<ArgumentException>().WithMessage("*2 rows of 3 elements need 6 destination elements; got 5*");
    }

    private static void ForThreads(Action<int> check)
    {
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                check(threads);
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }
}
