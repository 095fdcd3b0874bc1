using NeuralNet.Kernels;
namespace NeuralNet.Tests;

/// <summary>
/// The NaN/infinity search behind every input check (Finiteness): its float fast path works on raw bits with 512- and
/// 256-bit vectors and a scalar tail, so it is checked against the plain element test on every length around the vector
/// widths and for every kind of non-finite value at every position. CI runs these tests again without AVX-512.
/// </summary>
public class FinitenessTests
{
    private static readonly float[] NonFinite =
        [float.NaN, -float.NaN, float.PositiveInfinity, float.NegativeInfinity, BitConverter.Int32BitsToSingle(0x7F800001),
         BitConverter.Int32BitsToSingle(unchecked((int)0xFFFFFFFF))];

    // Finite values next to the boundary: the largest finite magnitudes, denormals, zeros of both signs.
    private static readonly float[] EdgeFinite =
        [float.MaxValue, float.MinValue, float.Epsilon, -float.Epsilon, 0f, -0f, 1f, BitConverter.Int32BitsToSingle(0x7F7FFFFF)];

    [Fact]
    public void FloatSearch_FindsEveryNonFiniteValueAtEveryPosition()
    {
        foreach (int length in new[] { 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 79, 80, 127, 128, 129, 200 })
        {
            var values = new float[length];
            for (int i = 0; i < length; i++) values[i] = EdgeFinite[i % EdgeFinite.Length];
            Finiteness.FirstNonFinite<float>(values).Should().Be(-1, $"length {length} holds only finite values");
            Finiteness.AllFinite<float>(values).Should().BeTrue();
            for (int position = 0; position < length; position++)
            {
                float saved = values[position];
                values[position] = NonFinite[(position + length) % NonFinite.Length];
                Finiteness.FirstNonFinite<float>(values).Should().Be(position, $"length {length}, {values[position]} at {position}");
                Finiteness.AllFinite<float>(values).Should().BeFalse();
                values[position] = saved;
            }
        }
    }

    [Fact]
    public void FloatSearch_ReportsTheFirstOfSeveral_AndAcceptsEmpty()
    {
        Finiteness.FirstNonFinite<float>([]).Should().Be(-1);
        var values = new float[256 * 784];
        values[100_003] = float.PositiveInfinity;
        values[150_000] = float.NaN;
        Finiteness.FirstNonFinite<float>(values).Should().Be(100_003);
        values[100_003] = 0f;
        Finiteness.FirstNonFinite<float>(values).Should().Be(150_000);
        values[150_000] = 0f;
        Finiteness.FirstNonFinite<float>(values).Should().Be(-1);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void LargeSearch_OnTheKernelThreads_GivesTheSameAnswerForAnyThreadCount(int threads)
    {
        // From Finiteness.ParallelMinLength floats the search is cut into parts of whole 64-float blocks; a value in any
        // part, at a part's first or last element, must be found whatever the number of parts.
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        NeuralNetSettings.MaxDegreeOfParallelism = threads;
        try
        {
            foreach (int length in new[] { Finiteness.ParallelMinLength, Finiteness.ParallelMinLength + 37, 256 * 784 + 5 })
            {
                var values = new float[length];
                for (int i = 0; i < length; i++) values[i] = i % 97 - 48.5f;
                Finiteness.AllFinite<float>(values).Should().BeTrue();
                foreach (int position in new[] { 0, 63, 64, length / 3, length / 2 - 1, length / 2, length / 2 + 64, length - 65, length - 1 })
                {
                    float saved2 = values[position];
                    values[position] = position % 2 == 0 ? float.NaN : float.NegativeInfinity;
                    Finiteness.AllFinite<float>(values).Should().BeFalse($"length {length}, threads {threads}, position {position}");
                    Finiteness.FirstNonFinite<float>(values).Should().Be(position);
                    values[position] = saved2;
                }
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    [Fact]
    public void DoubleSearch_FindsNonFiniteValues()
    {
        var values = new double[67];
        Finiteness.FirstNonFinite<double>(values).Should().Be(-1);
        values[66] = double.NegativeInfinity;
        Finiteness.FirstNonFinite<double>(values).Should().Be(66);
        values[3] = double.NaN;
        Finiteness.FirstNonFinite<double>(values).Should().Be(3);
    }
}
