namespace NeuralNet.Data;

/// <summary>The content of an IDX file of unsigned bytes: its dimensions and its data in row-major order.</summary>
/// <remarks>An MNIST image file is (count, rows, columns) = (60000, 28, 28); a label file is (count).</remarks>
public sealed class IdxArray
{
    private readonly int[] _dimensions;

    internal IdxArray(int[] dimensions, byte[] data, string source)
    {
        _dimensions = dimensions;
        Data = data;
        Source = source;
    }

    /// <summary>The dimensions as stored in the header, outermost first.</summary>
    public ReadOnlySpan<int> Dimensions => _dimensions;

    /// <summary>The number of records: the first dimension.</summary>
    public int Count => _dimensions[0];

    /// <summary>The bytes, row-major; the length is the product of <see cref="Dimensions"/>.</summary>
    public byte[] Data { get; }

    /// <summary>The file (or source name) the array was read from, for messages.</summary>
    public string Source { get; }

    /// <summary>Returns a copy of the dimensions.</summary>
    public int[] DimensionsArray() => (int[])_dimensions.Clone();
}
