using System.Runtime.InteropServices;
using Google.Protobuf;
using NeuralNet.Onnx.Protos;

namespace NeuralNet.Onnx;

/// <summary>
/// The graph an export is writing, as an export mapping sees it: it adds initializers (weights) and nodes and gets
/// back the names of the values they produce. Mappings never touch protobuf types, so a new module's mapping needs
/// nothing but this class (see <see cref="OnnxExportRegistry"/>).
/// </summary>
public sealed class OnnxGraphBuilder
{
    private readonly GraphProto _graph;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    internal OnnxGraphBuilder(GraphProto graph) => _graph = graph;

    /// <summary>
    /// The path of the module being exported in PyTorch's naming (<c>"3"</c>, or <c>"2.0"</c> inside a nested
    /// Sequential); initializer names are prefixed with it, so weights carry the same names as in a PyTorch state dict.
    /// </summary>
    public string ModulePath { get; internal set; } = "";

    /// <summary>
    /// Adds a float32 initializer named <c>{ModulePath}.{name}</c> holding a copy of <paramref name="values"/> with
    /// <paramref name="shape"/>, and returns its graph name.
    /// </summary>
    /// <param name="name">The tensor's short name, e.g. <c>weight</c>.</param>
    /// <param name="values">The elements in row-major order.</param>
    /// <param name="shape">The tensor's dimensions; their product must equal the number of values.</param>
    /// <exception cref="ArgumentException">The shape does not match the values, or the name is taken.</exception>
    public string AddInitializer(string name, ReadOnlySpan<float> values, params long[] shape)
    {
        CheckCount(name, values.Length, shape);
        var tensor = NewTensor(name, TensorProto.Types.DataType.Float, shape);
        tensor.RawData = ByteString.CopyFrom(LittleEndianBytes(values));
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds an int64 initializer (e.g. the target shape of a Reshape) and returns its graph name.</summary>
    /// <param name="name">The tensor's short name.</param>
    /// <param name="values">The elements in row-major order.</param>
    /// <param name="shape">The tensor's dimensions; their product must equal the number of values.</param>
    /// <exception cref="ArgumentException">The shape does not match the values, or the name is taken.</exception>
    public string AddInt64Initializer(string name, ReadOnlySpan<long> values, params long[] shape)
    {
        CheckCount(name, values.Length, shape);
        var tensor = NewTensor(name, TensorProto.Types.DataType.Int64, shape);
        foreach (long v in values) tensor.Int64Data.Add(v);
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds a node of the default ONNX domain and returns the name of its (single) output value.</summary>
    /// <param name="opType">The operator, e.g. <c>Gemm</c>.</param>
    /// <param name="inputs">The names of its inputs, in the operator's order (the previous value first, then initializers).</param>
    /// <param name="attributes">Its attributes.</param>
    /// <returns>The name of the value the node produces.</returns>
    public string AddNode(string opType, IReadOnlyList<string> inputs, params OnnxAttribute[] attributes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(opType);
        ArgumentNullException.ThrowIfNull(inputs);
        string prefix = ModulePath.Length == 0 ? opType : $"{ModulePath}/{opType}";
        string nodeName = Unique(prefix);
        string output = Unique($"{prefix}_output");
        var node = new NodeProto { Name = nodeName, OpType = opType };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        foreach (var a in attributes) node.Attribute.Add(ToProto(a));
        _graph.Node.Add(node);
        return output;
    }

    internal void Reserve(string name) => _names.Add(name);

    internal void RenameLastOutput(string from, string to)
    {
        var node = _graph.Node[^1];
        for (int i = 0; i < node.Output.Count; i++)
            if (node.Output[i] == from) node.Output[i] = to;
    }

    private TensorProto NewTensor(string name, TensorProto.Types.DataType type, long[] shape)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        string full = ModulePath.Length == 0 ? name : $"{ModulePath}.{name}";
        if (!_names.Add(full))
            throw new ArgumentException($"ONNX export: the graph already has a value named '{full}'.", nameof(name));
        var tensor = new TensorProto { Name = full, DataType = (int)type };
        tensor.Dims.AddRange(shape);
        return tensor;
    }

    private string Unique(string name)
    {
        string candidate = name;
        for (int i = 1; !_names.Add(candidate); i++) candidate = $"{name}_{i}";
        return candidate;
    }

    private static void CheckCount(string name, int count, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long product = 1;
        foreach (long d in shape)
        {
            if (d < 0) throw new ArgumentException($"ONNX export: initializer '{name}' has a negative dimension.", nameof(shape));
            product *= d;
        }
        if (product != count)
            throw new ArgumentException($"ONNX export: initializer '{name}' has {count} values but its shape holds {product}.", nameof(shape));
    }

    internal static byte[] LittleEndianBytes(ReadOnlySpan<float> values)
    {
        byte[] bytes = MemoryMarshal.AsBytes(values).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            for (int i = 0; i < bytes.Length; i += 4) bytes.AsSpan(i, 4).Reverse();
        }
        return bytes;
    }

    private static AttributeProto ToProto(OnnxAttribute a)
    {
        var p = new AttributeProto { Name = a.Name };
        switch (a.Kind)
        {
            case OnnxAttributeKind.Int: p.Type = AttributeProto.Types.AttributeType.Int; p.I = a.IntValue; break;
            case OnnxAttributeKind.Float: p.Type = AttributeProto.Types.AttributeType.Float; p.F = a.FloatValue; break;
            case OnnxAttributeKind.Ints: p.Type = AttributeProto.Types.AttributeType.Ints; p.Ints.AddRange(a.IntValues); break;
            case OnnxAttributeKind.Floats: p.Type = AttributeProto.Types.AttributeType.Floats; p.Floats.AddRange(a.FloatValues); break;
            default: p.Type = AttributeProto.Types.AttributeType.String; p.S = ByteString.CopyFromUtf8(a.Text!); break;
        }
        return p;
    }
}
