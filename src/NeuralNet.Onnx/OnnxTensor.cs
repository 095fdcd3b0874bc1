namespace NeuralNet.Onnx;

/// <summary>A constant tensor of an ONNX graph (an initializer or a Constant node's value), decoded.</summary>
public sealed class OnnxTensor
{
    internal OnnxTensor(string name, int[] shape, float[]? floats, long[]? int64s)
    {
        Name = name;
        Shape = shape;
        Floats = floats;
        Int64s = int64s;
    }

    /// <summary>The tensor's name in the graph.</summary>
    public string Name { get; }

    /// <summary>The tensor's dimensions.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The elements of a float32 tensor in row-major order, or null for an int64 tensor.</summary>
    public float[]? Floats { get; }

    /// <summary>The elements of an int64 tensor in row-major order, or null for a float32 tensor.</summary>
    public long[]? Int64s { get; }

    /// <summary>The number of elements.</summary>
    public int Length => Floats?.Length ?? Int64s!.Length;

    /// <summary>The shape as text, e.g. <c>(16, 400)</c>.</summary>
    public string ShapeString => "(" + string.Join(", ", Shape) + ")";
}
