using NeuralNet.Data;

namespace NeuralNet.Tests.Training;

/// <summary>The bundled MNIST (data/mnist): the one copy <see cref="Data.MnistFixture"/> loads for the whole test run.</summary>
internal static class MnistTestData
{
    public static Dataset TrainSet => Data.MnistFixture.Data.Train;

    public static Dataset TestSet => Data.MnistFixture.Data.Test;

    /// <summary><paramref name="count"/> training images from <paramref name="skip"/> on, as (count, 784), with their labels.</summary>
    public static (NdArray<float> X, int[] Y) TrainSubset(int count, int skip = 0)
    {
        var d = TrainSet.Slice(skip, count);
        return (d.Features, d.Labels);
    }
}
