namespace NeuralNet.Onnx;

/// <summary>
/// One attribute of an ONNX node written by an export mapping: an integer, a float, a list of integers or floats, or a
/// string. Build them with the factory methods (<see cref="Int"/>, <see cref="Ints"/>, ...).
/// </summary>
public sealed class OnnxAttribute
{
    private OnnxAttribute(string name, OnnxAttributeKind kind, long intValue, float floatValue, long[]? ints, float[]? floats, string? text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        Kind = kind;
        IntValue = intValue;
        FloatValue = floatValue;
        IntValues = ints ?? [];
        FloatValues = floats ?? [];
        Text = text;
    }

    /// <summary>The attribute's name as the operator defines it, e.g. <c>kernel_shape</c>.</summary>
    public string Name { get; }

    /// <summary>Which value the attribute carries.</summary>
    public OnnxAttributeKind Kind { get; }

    /// <summary>The value of an <see cref="OnnxAttributeKind.Int"/> attribute.</summary>
    public long IntValue { get; }

    /// <summary>The value of a <see cref="OnnxAttributeKind.Float"/> attribute.</summary>
    public float FloatValue { get; }

    /// <summary>The values of an <see cref="OnnxAttributeKind.Ints"/> attribute (empty otherwise).</summary>
    public IReadOnlyList<long> IntValues { get; }

    /// <summary>The values of an <see cref="OnnxAttributeKind.Floats"/> attribute (empty otherwise).</summary>
    public IReadOnlyList<float> FloatValues { get; }

    /// <summary>The value of a <see cref="OnnxAttributeKind.String"/> attribute.</summary>
    public string? Text { get; }

    /// <summary>An integer attribute.</summary>
    /// <param name="name">The attribute name.</param>
    /// <param name="value">Its value.</param>
    public static OnnxAttribute Int(string name, long value) => new(name, OnnxAttributeKind.Int, value, 0, null, null, null);

    /// <summary>A float attribute.</summary>
    /// <param name="name">The attribute name.</param>
    /// <param name="value">Its value.</param>
    public static OnnxAttribute Float(string name, float value) => new(name, OnnxAttributeKind.Float, 0, value, null, null, null);

    /// <summary>A list-of-integers attribute.</summary>
    /// <param name="name">The attribute name.</param>
    /// <param name="values">Its values.</param>
    public static OnnxAttribute Ints(string name, params long[] values) => new(name, OnnxAttributeKind.Ints, 0, 0, (long[])values.Clone(), null, null);

    /// <summary>A list-of-floats attribute.</summary>
    /// <param name="name">The attribute name.</param>
    /// <param name="values">Its values.</param>
    public static OnnxAttribute Floats(string name, params float[] values) => new(name, OnnxAttributeKind.Floats, 0, 0, null, (float[])values.Clone(), null);

    /// <summary>A string attribute.</summary>
    /// <param name="name">The attribute name.</param>
    /// <param name="value">Its value.</param>
    public static OnnxAttribute String(string name, string value) => new(name, OnnxAttributeKind.String, 0, 0, null, null, value ?? throw new ArgumentNullException(nameof(value)));
}

/// <summary>The value kinds of an <see cref="OnnxAttribute"/>.</summary>
public enum OnnxAttributeKind
{
    /// <summary>A 64-bit integer.</summary>
    Int,

    /// <summary>A 32-bit float.</summary>
    Float,

    /// <summary>A list of 64-bit integers.</summary>
    Ints,

    /// <summary>A list of 32-bit floats.</summary>
    Floats,

    /// <summary>A UTF-8 string.</summary>
    String,
}
