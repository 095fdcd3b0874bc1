namespace NeuralNet;

/// <summary>Library-wide settings.</summary>
public static class NeuralNetSettings
{
    private static int _maxDegreeOfParallelism = Environment.ProcessorCount;

    /// <summary>
    /// The most threads a kernel may use. 1 runs single-threaded. Defaults to <see cref="Environment.ProcessorCount"/>.
    /// Results are bit-identical for every value: each output element is computed by one thread in a fixed order.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public static int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _maxDegreeOfParallelism = value;
        }
    }
}
